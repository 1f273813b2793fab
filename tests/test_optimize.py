"""FP16 and INT8 artifacts through ONNX Runtime's real tools, with measured accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner
from onnx import numpy_helper
from torch import nn

from edgeres.bundle import MANIFEST, Bundle, sha256_file
from edgeres.cli import cli
from edgeres.errors import BundleError, ConfigError
from edgeres.export import ExportConfig, export_onnx
from edgeres.export.source import ModelSource
from edgeres.models import create_model, default_input_spec
from edgeres.models.registry import InputSpec
from edgeres.optimize import OptimizeConfig, QuantConfig
from edgeres.optimize.accuracy import run_outputs
from edgeres.optimize.calibration import InputRecipe, load_dataset
from edgeres.optimize.ort import optimize_bundle

SHAPE = (1, 8, 8)


@pytest.fixture(scope="session")
def digits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CIFAR ResNet-20 trained on scikit-learn's digits (real handwriting), exported to a bundle."""
    datasets = pytest.importorskip("sklearn.datasets", reason="scikit-learn ships the digits")
    root = tmp_path_factory.mktemp("digits")
    digits = datasets.load_digits()
    images, labels = (digits.images * 16).clip(0, 255).astype(np.uint8), digits.target
    np.savez(root / "train.npz", x=images[:1300], y=labels[:1300])
    np.savez(root / "test.npz", x=images[1300:], y=labels[1300:])
    np.savez(root / "unlabelled.npz", x=images[1300:])
    spec = default_input_spec("resnet20", in_chans=1)
    recipe = InputRecipe(SHAPE, spec.mean, spec.std, spec.scale, 1.0)
    train = load_dataset(root / "train.npz", recipe)
    torch.manual_seed(0)
    model = create_model("resnet20", in_chans=1, num_classes=10)
    x, y = torch.from_numpy(train.inputs), torch.from_numpy(train.labels)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    for _ in range(6):
        model.train()
        for index in torch.randperm(len(x)).split(64):
            loss = nn.functional.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    source = ModelSource(model.eval(), "resnet20-digits", "module", InputSpec(SHAPE, spec.mean, spec.std, channel_order="GRAY"), 10)
    export_onnx(source, ExportConfig(output=root / "bundle", input_shape=SHAPE, dynamic_batch=True))
    return {"bundle": root / "bundle", "train": root / "train.npz", "test": root / "test.npz",
            "unlabelled": root / "unlabelled.npz", "root": root}


def fresh_copy(bundle: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / bundle.name
    shutil.copytree(bundle, target)
    return target


def test_int8_keeps_digits_accuracy(digits: dict[str, Path], tmp_path: Path) -> None:
    bundle = fresh_copy(digits["bundle"], tmp_path)
    report = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib=str(digits["train"]), eval=str(digits["test"])))
    accuracy = report.accuracy
    assert accuracy.labelled and accuracy.samples == 497
    assert accuracy.fp32_top1 > 90  # the network really learned the digits
    assert accuracy.top1_drop <= 1.0  # stated margin: INT8 loses at most one point
    assert accuracy.agreement >= 97 and accuracy.cosine_mean > 0.99

    manifest = json.loads((bundle / MANIFEST).read_text())
    record = manifest["artifacts"]["model.int8.onnx"]
    assert record["sha256"] == sha256_file(bundle / "model.int8.onnx")
    assert record["derived_from"]["sha256"] == manifest["artifacts"]["model.onnx"]["sha256"]
    calibration = record["quantization"]["calibration"]
    assert calibration["samples"] == 512  # the default --calib-limit
    assert calibration["sha256"] == load_dataset(digits["train"], InputRecipe.from_manifest(manifest), limit=512).sha256
    assert record["quantization"]["activation_type"] == "uint8" and record["quantization"]["reduce_range"] is True
    assert manifest["validation"]["model.int8.onnx"]["accuracy_known"] is True
    assert manifest["history"][-1]["stage"] == "optimize" and manifest["history"][0]["stage"] == "export"


def test_int8_qdq_structure_for_cpu_and_tensorrt(digits: dict[str, Path], tmp_path: Path) -> None:
    bundle = fresh_copy(digits["bundle"], tmp_path)
    reference = onnx.load(str(bundle / "model.onnx"))
    weighted = [n for n in reference.graph.node if n.op_type in ("Conv", "Gemm")]
    for target in ("cpu", "tensorrt"):
        report = optimize_bundle(bundle, OptimizeConfig(precision="int8", target=target, calib=str(digits["train"])))
        model = onnx.load(str(bundle / report.artifact))
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
                     and inits[n.input[0]].dtype == np.int8 and inits[n.input[0]].ndim >= 2]
        assert len(weight_dq) == len(weighted)  # every conv and the classifier has an INT8 weight
        for node in weight_dq:  # per-channel: one scale per output channel
            weight, scale = inits[node.input[0]], inits[node.input[1]]
            assert scale.shape == (weight.shape[0],) and np.all(scale > 0)
        activation_q = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
        zero_points = [inits[n.input[2]] for n in activation_q]
        if target == "tensorrt":
            assert report.artifact == "model.int8.trt.onnx"
            assert all(z.dtype == np.int8 and int(z) == 0 for z in zero_points)  # symmetric, signed
            assert not any(v.dtype == np.int32 for v in inits.values())  # bias left in float for TensorRT
            assert all(int(np.abs(inits[n.input[0]]).max()) <= 127 for n in weight_dq)
        else:
            assert all(z.dtype == np.uint8 for z in zero_points)
            assert all(int(np.abs(inits[n.input[0]]).max()) <= 64 for n in weight_dq)  # reduce_range: 7-bit
    manifest = Bundle.open(bundle).manifest
    assert manifest["artifacts"]["model.int8.trt.onnx"]["quantization"]["symmetric_activations"] is True


def test_fp16_artifact(digits: dict[str, Path], tmp_path: Path) -> None:
    bundle = fresh_copy(digits["bundle"], tmp_path)
    report = optimize_bundle(bundle, OptimizeConfig(precision="fp16", eval=str(digits["test"])))
    model = onnx.load(str(bundle / "model.fp16.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # I/O kept FP32
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    conv_weights = [i for i in model.graph.initializer if len(i.dims) == 4]
    assert conv_weights and all(i.data_type == onnx.TensorProto.FLOAT16 for i in conv_weights)
    test = load_dataset(digits["test"], InputRecipe.from_manifest(Bundle.open(bundle).manifest))
    fp32, fp16 = run_outputs(bundle / "model.onnx", test, 32), run_outputs(bundle / "model.fp16.onnx", test, 32)
    # Stated tolerance: FP16 logits within 1% of the FP32 output scale.
    assert np.abs(fp32 - fp16).max() <= 1e-2 * np.abs(fp32).max()
    assert report.accuracy.agreement >= 99.5 and report.accuracy.cosine_min > 0.9999


def test_random_calibration_is_marked_unknown(digits: dict[str, Path], tmp_path: Path) -> None:
    bundle = fresh_copy(digits["bundle"], tmp_path)
    report = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random"))
    assert report.accuracy is None and any("RANDOM" in note for note in report.warnings)
    validation = Bundle.open(bundle).manifest["validation"]["model.int8.onnx"]
    assert validation["accuracy_known"] is False
    assert Bundle.open(bundle).artifact("model.int8.onnx")["quantization"]["calibration"]["random"] is True


def test_fallback_reduces_the_drop(digits: dict[str, Path], tmp_path: Path) -> None:
    """Calibrated on random noise, plain INT8 disagrees with FP32; the fallback keeps sensitive layers in float.

    Without labels the budget is checked against disagreement with FP32's top-1 (points), a steadier
    measure than top-1 on 497 samples.
    """
    bundle = fresh_copy(digits["bundle"], tmp_path)
    evaluation = str(digits["unlabelled"])
    plain = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random", eval=evaluation))
    assert not plain.accuracy.labelled and plain.accuracy.drop > 0
    budget = plain.accuracy.drop / 2
    report = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random", eval=evaluation,
                                                    max_accuracy_drop=budget, force=True))
    assert report.accuracy.drop <= budget < plain.accuracy.drop
    assert report.float_layers and report.fallback_steps[0][1] == pytest.approx(plain.accuracy.drop)
    kept = Bundle.open(bundle).artifact("model.int8.onnx")["quantization"]["float_layers"]
    assert [layer["name"] for layer in kept] == [layer.name for layer in report.float_layers]
    assert all("kept in float" in layer["reason"] for layer in kept)
    graph = onnx.load(str(bundle / "model.int8.onnx")).graph
    consumers = {n.name: n for n in graph.node}
    producers = {o: n for n in graph.node for o in n.output}
    for layer in report.float_layers:  # a float layer's inputs are not dequantized weights
        node = consumers[layer.name]
        assert not any(producers.get(i) is not None and producers[i].op_type == "DequantizeLinear"
                       and producers[i].input[0].endswith("_quantized") for i in node.input[1:2])


def test_optimize_errors(digits: dict[str, Path], tmp_path: Path) -> None:
    bundle = fresh_copy(digits["bundle"], tmp_path)
    with pytest.raises(ConfigError, match="int8 needs calibration data"):
        OptimizeConfig(precision="int8")
    with pytest.raises(ConfigError, match="TensorRT takes only signed"):
        optimize_bundle(bundle, OptimizeConfig(precision="int8", target="tensorrt", calib="random",
                                               quant=QuantConfig(activation_type="uint8")))
    with pytest.raises(ConfigError, match="needs real data"):
        optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random", max_accuracy_drop=1))
    with pytest.raises(ConfigError, match="--exclude names nodes the graph does not have: /nope"):
        optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random", quant=QuantConfig(exclude=("/nope",))))
    optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random"))
    with pytest.raises(BundleError, match="already has model.int8.onnx; pass --force"):
        optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random"))
    assert sorted(p.name for p in bundle.iterdir()) == [MANIFEST, "model.int8.onnx", "model.onnx"]


def test_cli_export_int8_and_optimize(digits: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "r20"
    result = runner.invoke(cli, ["export", "resnet20", "-o", str(out), "--precision", "int8", "--calib", "random",
                                 "--calib-limit", "40", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["artifact"] == "model.int8.onnx" and report["accuracy"] is None
    assert "RANDOM" in result.stderr
    result = runner.invoke(cli, ["optimize", str(out), "--precision", "fp16"])
    assert result.exit_code == 0, result.output
    assert "model.fp16.onnx" in result.output and "agreement with FP32" in result.output
    assert sorted(Bundle.open(out).artifacts) == ["model.fp16.onnx", "model.int8.onnx", "model.onnx"]
    result = runner.invoke(cli, ["optimize", str(out), "--precision", "int8"])
    assert result.exit_code == 1 and "int8 needs calibration data" in result.output
