"""Export recipes: the shipped ones load and run; mistakes name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeres.cli import cli
from edgeres.errors import ConfigError
from edgeres.export import load_recipe
from edgeres.precision import Precision
from edgeres.resources import data_files


def test_shipped_recipes_are_valid() -> None:
    recipes = {path.stem: load_recipe(path) for path in data_files("export")}
    assert {"resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_small"} <= set(recipes)
    assert recipes["resnet50"].dynamic_batch and recipes["resnet18"].precision is Precision.FP32
    assert recipes["mobilenet_v3_small"].input_shape == (3, 224, 224)


def test_recipe_runs_through_the_cli(tmp_path: Path) -> None:
    recipe = next(p for p in data_files("export") if p.stem == "mobilenet_v3_small")
    result = CliRunner().invoke(cli, ["export", "--recipe", str(recipe), "-o", str(tmp_path / "b"), "--json"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "b" / "edgeres.json").read_text())
    assert manifest["source"]["name"] == "mobilenet_v3_small" and manifest["artifacts"]["model.onnx"]["opset"] == 17


@pytest.mark.parametrize(
    "text,message",
    [
        ("model: resnet18\nbatchsize: 4\n", "unknown key(s) batchsize"),
        ("model: resnet18\nbatch: four\n", "key 'batch' must be int, got str 'four'"),
        ("model: resnet18\ndynamic_batch: 1\n", "key 'dynamic_batch' must be bool"),
        ("model: resnet18\nbatch: true\n", "key 'batch' must be int, got bool"),
        ("model: resnet18\nprecision: int4\n", "unknown precision 'int4'"),
        ("model: resnet18\ntarget: fpga\n", "key 'target' must be one of cpu, tensorrt"),
        ("model: resnet18\ninput_shape: [1, 3, 224, 224]\n", "has four dimensions"),
        ("batch: 1\n", "the key 'model' is required"),
        ("- model\n", "must be a mapping"),
        ("model: [unclosed\n", "is not valid YAML"),
    ],
)
def test_recipe_errors_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as info:
        load_recipe(path)
    assert message in str(info.value) and "bad.yaml" in str(info.value)


def test_recipe_paths_are_relative_to_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("model: mobilenet_v2\nweights: w/mbv2.pth\ncalib: random\neval: data/test\n")
    recipe = load_recipe(tmp_path / "r.yaml")
    assert recipe.weights == tmp_path / "w" / "mbv2.pth" and recipe.calib == "random"
    assert recipe.eval == str(tmp_path / "data" / "test")
