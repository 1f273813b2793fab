"""Packaging: light imports, shipped data, the optional-dependency helper."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from edgeres.errors import MissingDependencyError
from edgeres.optional import require
from edgeres.resources import data_dir, data_files

ROOT = Path(__file__).resolve().parents[1]


def loaded_modules(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_import_edgeres_is_light() -> None:
    modules = loaded_modules("import edgeres")
    assert not {"onnxruntime", "tensorrt", "torch", "onnx"} & modules


def test_cli_help_imports_no_runtime() -> None:
    modules = loaded_modules(
        "from click.testing import CliRunner\nfrom edgeres.cli import cli\n"
        "assert CliRunner().invoke(cli, ['--help']).exit_code == 0"
    )
    assert not {"onnxruntime", "tensorrt", "torch"} & modules


def test_require_names_the_extra() -> None:
    with pytest.raises(MissingDependencyError, match=r"pip install 'edgeres\[tensorrt\]'"):
        require("edgeres_no_such_module", extra="tensorrt")


def test_shipped_data_folders_load() -> None:
    assert [p.name for p in data_files("devices")][:1] and [p.name for p in data_files("export")][:1]
    for name in ("devices", "export"):
        for path in data_files(name):
            assert isinstance(yaml.safe_load(path.read_text()), dict)
    with pytest.raises(ValueError, match="unknown data folder"):
        data_dir("weights")


@pytest.mark.slow
def test_wheel_ships_the_catalog_and_recipes(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (in the dev extra)")
    result = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("edgeres-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("devices", "export"):
        shipped = {Path(n).name for n in names if n.startswith(f"edgeres/_data/{folder}/")}
        assert shipped == {p.name for p in (ROOT / folder).glob("*.yaml")}
