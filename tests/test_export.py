"""Export to verified ONNX bundles: real exports, real ONNX Runtime sessions, the atomicity rule."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from edgeres.bundle import MANIFEST, Bundle, create_bundle, sha256_file
from edgeres.cli import cli
from edgeres.errors import BundleError, ConfigError, VerificationError
from edgeres.export import ExportConfig, export_onnx, load_source, parse_input_shape
from edgeres.export.inspection import inspect_path
from edgeres.export.verify import cpu_session
from edgeres.models import count_macs, create_model


def run_onnx(path: Path, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": batch})[0]


def test_export_mobilenet_v3_small_bundle(tmp_path: Path) -> None:
    """Hard-swish and squeeze-excite export cleanly; the bundle is complete and verified."""
    out = tmp_path / "mbv3"
    report = export_onnx(load_source("mobilenet_v3_small"), ExportConfig(output=out))
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "model.onnx"]
    assert report.opset == 17 and report.exporter == "torchscript"
    assert all(p.passed and p.cosine > 0.99999 for p in report.parity)

    graph = onnx.load(str(out / "model.onnx")).graph
    ops = {node.op_type for node in graph.node}
    assert {"HardSwish", "HardSigmoid", "Conv", "Add"} <= ops
    assert not ops & {"BatchNormalization", "Identity", "Constant", "Dropout"}  # folded and cleaned
    names = {node.name for node in graph.node}
    assert "/blocks/blocks.3/conv_dw/Conv" in names and "/blocks/blocks.3/se/conv_reduce/Conv" in names

    metadata = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert metadata["model_name"] == "mobilenet_v3_small" and metadata["num_classes"] == "1000"
    assert metadata["input_layout"] == "NCHW" and metadata["mean"] == "0.485,0.456,0.406"
    assert metadata["edgeres_version"]

    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["schema"] == "edgeres.bundle" and manifest["schema_version"] == 1
    record = manifest["artifacts"]["model.onnx"]
    assert record["sha256"] == sha256_file(out / "model.onnx") and record["precision"] == "fp32"
    assert manifest["source"]["macs"] == count_macs(create_model("mobilenet_v3_small"), (1, 3, 224, 224))
    assert manifest["source"]["params"] == 2_542_856
    assert manifest["inputs"][0]["shape"] == [1, 3, 224, 224]
    assert manifest["validation"]["model.onnx"]["parity"]["results"][0]["passed"]
    assert manifest["history"][0]["stage"] == "export"


def test_dynamic_batch_runs_at_batch_1_and_3(tmp_path: Path) -> None:
    source = load_source("resnet20")
    report = export_onnx(source, ExportConfig(output=tmp_path / "r20", dynamic_batch=True))
    assert sorted({p.batch for p in report.parity}) == [1, 3]
    model = source.model
    for batch in (1, 3):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 32, 32), dtype=np.float32)
        with torch.no_grad():
            expected = model(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(run_onnx(report.onnx_path, x), expected, rtol=1e-4, atol=1e-5)
    assert json.loads((tmp_path / "r20" / MANIFEST).read_text())["inputs"][0]["shape"] == ["batch", 3, 32, 32]


def test_dynamic_height_and_width(tmp_path: Path) -> None:
    report = export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "hw", dynamic_hw=True))
    assert any(p.batch == 2 for p in report.parity)  # the second resolution (H+32, W+32)
    x = np.zeros((1, 3, 48, 40), np.float32)
    assert run_onnx(report.onnx_path, x).shape == (1, 10)


@pytest.mark.slow
def test_full_size_zoo_exports_with_weights(tmp_path: Path, mobilenet_v2_imagenet_weights: Path) -> None:
    """The real ImageNet MobileNetV2: ONNX Runtime predicts what PyTorch predicts."""
    report = export_onnx(
        load_source("mobilenet_v2", weights=mobilenet_v2_imagenet_weights), ExportConfig(output=tmp_path / "mbv2")
    )
    (result,) = report.parity
    assert result.passed and result.max_rel < 1e-4
    manifest = json.loads((tmp_path / "mbv2" / MANIFEST).read_text())
    assert manifest["source"]["weights"]["sha256"] == sha256_file(mobilenet_v2_imagenet_weights)
    assert manifest["source"]["init"] == "checkpoint"


@pytest.mark.slow
def test_resnet50_dynamic_batch_inspect_totals_match(tmp_path: Path) -> None:
    export_onnx(load_source("resnet50"), ExportConfig(output=tmp_path / "r50", dynamic_batch=True))
    report = inspect_path(tmp_path / "r50")
    assert report.costs.totals["macs"] == 4_089_184_256 == count_macs(create_model("resnet50"), (1, 3, 224, 224))
    names = [layer.name for layer in report.costs.layers]
    assert "/layer1/layer1.0/conv1/Conv" in names and "/layer1/layer1.0/downsample/downsample.0/Conv" in names
    assert inspect_path(tmp_path / "r50", batch=4).costs.totals["macs"] == 4 * 4_089_184_256


class RandomInForward(nn.Module):
    """A model whose ONNX graph cannot match PyTorch: it draws random numbers in forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :4] + torch.rand(x.shape[0], 4)


def test_parity_failure_writes_nothing_and_keeps_the_old_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_onnx(load_source("resnet20"), ExportConfig(output=out))
    before = {p.name: sha256_file(p) for p in out.iterdir()}
    with pytest.raises(VerificationError, match=r"parity check failed for output 'logits' at batch 1: max abs error"):
        export_onnx(RandomInForward(), ExportConfig(output=out, input_shape=(3, 8, 8), force=True))
    assert {p.name: sha256_file(p) for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # no staging leftovers
    with pytest.raises(VerificationError):
        export_onnx(RandomInForward(), ExportConfig(output=tmp_path / "new", input_shape=(3, 8, 8)))
    assert not (tmp_path / "new").exists()


def test_interrupted_write_leaves_the_old_bundle(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_onnx(load_source("resnet20"), ExportConfig(output=out))
    manifest = (out / MANIFEST).read_text()
    with pytest.raises(KeyboardInterrupt):
        with create_bundle(out, force=True) as bundle:
            (bundle.root / "model.onnx").write_bytes(b"half a model")
            raise KeyboardInterrupt
    assert (out / MANIFEST).read_text() == manifest
    Bundle.open(out).verified_path("model.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_force_replaces_and_modified_artifact_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    export_onnx(load_source("resnet20"), ExportConfig(output=out))
    with pytest.raises(BundleError, match="already holds a bundle; pass --force"):
        export_onnx(load_source("resnet20"), ExportConfig(output=out))
    export_onnx(load_source("resnet20", num_classes=3), ExportConfig(output=out, force=True))
    assert json.loads((out / MANIFEST).read_text())["outputs"][0]["shape"] == [1, 3]
    with open(out / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BundleError, match="was modified after edgeres wrote it"):
        inspect_path(out)


def test_user_module_attr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mynet.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3, padding=1)
                self.fc = nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(self.conv(x).mean((2, 3)))

        def build():
            torch.manual_seed(0)
            return Tiny()

        instance = build()
        not_a_model = 42
    """))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    for spec in ("mynet:build", "mynet:instance"):
        result = runner.invoke(cli, ["export", spec, "--input-shape", "1,16,16", "-o", f"out-{spec[6:]}", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["macs"] == 16 * 16 * 4 * 9 + 4 * 2
    manifest = json.loads((tmp_path / "out-build" / MANIFEST).read_text())
    assert manifest["source"]["kind"] == "module" and manifest["preprocessing"] is None

    def fails(*args: str) -> str:
        result = runner.invoke(cli, ["export", *args])
        assert result.exit_code != 0
        assert "Traceback" not in result.output
        return result.output.strip()

    assert "the input shape of mynet:build is unknown" in fails("mynet:build", "-o", "x")
    assert "mynet:not_a_model is a int, not an nn.Module" in fails("mynet:not_a_model", "--input-shape", "1,8,8", "-o", "x")
    assert "cannot import 'nosuchmodule'" in fails("nosuchmodule:build", "--input-shape", "1,8,8", "-o", "x")
    assert "has no attribute 'nothing'" in fails("mynet:nothing", "--input-shape", "1,8,8", "-o", "x")
    assert "the model fails on an input of shape (1, 3, 16, 16)" in fails("mynet:build", "--input-shape", "3,16,16", "-o", "x")
    assert not any(p.name == "x" for p in tmp_path.iterdir())


def test_cli_bad_inputs_are_one_clear_line(tmp_path: Path) -> None:
    runner = CliRunner()

    def fails(*args: str) -> str:
        result = runner.invoke(cli, ["export", *args])
        assert result.exit_code != 0, result.output
        assert "Traceback" not in result.output
        return result.output.strip().splitlines()[-1]

    assert "unknown model 'resnet5'; did you mean" in fails("resnet5", "-o", str(tmp_path / "a"))
    assert "has four dimensions; give C,H,W without the batch" in fails("resnet20", "--input-shape", "1,3,32,32", "-o", str(tmp_path / "a"))
    assert "is not a list of integers" in fails("resnet20", "--input-shape", "3,big,32", "-o", str(tmp_path / "a"))
    (tmp_path / "file").write_text("x")
    assert "is a file, not a directory" in fails("resnet20", "-o", str(tmp_path / "file" / "bundle"))
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    assert "is not an edgeres bundle; refusing to write into it" in fails("resnet20", "-o", str(tmp_path / "notes"))
    assert "opset 40 is newer than the installed onnx" in fails("resnet20", "--opset", "40", "-o", str(tmp_path / "a"))
    assert "Error: give MODEL or --recipe" in fails("-o", str(tmp_path / "a"))
    assert not (tmp_path / "a").exists()
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs a read-only /proc (Linux)")
def test_unwritable_output_directory() -> None:
    with pytest.raises(BundleError, match="cannot write a bundle at /proc/edgeres-test"):
        export_onnx(load_source("resnet20"), ExportConfig(output=Path("/proc/edgeres-test/bundle")))


def test_opset_the_runtime_cannot_run(tmp_path: Path) -> None:
    """A graph at an opset ONNX Runtime does not implement gets a clear error, not a crash."""
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 99)])
    onnx.save(model, str(tmp_path / "future.onnx"))
    with pytest.raises(VerificationError, match="cannot load .*future.onnx.*lower --opset or upgrade onnxruntime"):
        cpu_session(tmp_path / "future.onnx")


def test_dynamo_exporter_is_an_option_and_its_opset_is_checked(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript (edgeres[dynamo])")
    with pytest.raises(VerificationError, match="asked for opset 17, the dynamo exporter wrote opset 18"):
        export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "d17", exporter="dynamo"))
    assert not (tmp_path / "d17").exists()
    report = export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "d18", exporter="dynamo", opset=18))
    assert report.opset == 18 and all(p.passed for p in report.parity)


def test_parse_input_shape() -> None:
    assert parse_input_shape("3,224,224") == parse_input_shape("3x224x224") == parse_input_shape([3, 224, 224]) == (3, 224, 224)
    with pytest.raises(ConfigError, match="three positive integers"):
        parse_input_shape("3,0,224")
