"""The runtime session contract and the latency harness, on real ONNX Runtime sessions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeres import runtime
from edgeres.bundle import Bundle
from edgeres.cli import cli
from edgeres.errors import BundleError, ConfigError
from edgeres.export import ExportConfig, export_onnx, load_source
from edgeres.export.layers import layer_costs
from edgeres.profile.latency import ProfileConfig, latency_stats, profile_session
from edgeres.profile.layers import profile_layers
from edgeres.profile.run import profile_bundle
from edgeres.runtime.session import InputError, Session, TensorSpec


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("profile") / "r20"
    export_onnx(load_source("resnet20"), ExportConfig(output=out, dynamic_batch=True))
    return out


def test_statistics_are_computed_right(bundle: Path) -> None:
    with runtime.load(bundle, threads=1) as session:
        (report,) = profile_session(session, ProfileConfig(warmup=3, iters=25))
    timings = np.asarray(report.timings_ms)
    assert report.timed_calls == len(timings) == 25 and report.warmup_calls == 3
    expected = {"min": timings.min(), "mean": timings.mean(), "p50": np.percentile(timings, 50), "p90": np.percentile(timings, 90),
                "p95": np.percentile(timings, 95), "p99": np.percentile(timings, 99), "max": timings.max(), "std": timings.std()}
    assert report.latency_ms == pytest.approx(expected)
    assert report.throughput_ips == pytest.approx(1000.0 / expected["p50"])
    assert report.cv == pytest.approx(expected["std"] / expected["mean"])
    assert report.peak_rss_mb > 10 and report.session["provider"] == "CPUExecutionProvider"
    assert latency_stats([1.0, 2.0, 3.0, 4.0])["p50"] == 2.5


def test_batch_sizes_and_adaptive_warmup(bundle: Path) -> None:
    with runtime.load(bundle) as session:
        reports = profile_session(session, ProfileConfig(batch_sizes=(1, 4), iters=10, min_warmup=6, max_warmup=40))
    assert [r.batch for r in reports] == [1, 4]
    assert all(6 <= r.warmup_calls <= 40 for r in reports)
    assert reports[1].throughput_ips == pytest.approx(4000.0 / reports[1].latency_ms["p50"])


class JitterySession(Session):
    """A real session whose calls sleep 1 ms, or 10 ms one time in four: a machine with a noisy neighbour."""

    backend, provider = "test", "sleep"

    def __init__(self) -> None:
        self.calls = 0

    @property
    def inputs(self) -> list[TensorSpec]:
        return [TensorSpec("x", (1, 2), "float32")]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [TensorSpec("y", (1, 2), "float32")]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.calls += 1
        time.sleep(0.010 if self.calls % 4 == 0 else 0.001)
        return {"y": feeds["x"]}


def test_noisy_session_is_flagged() -> None:
    (report,) = profile_session(JitterySession(), ProfileConfig(warmup=2, iters=40))
    assert not report.stable and report.cv > 0.5
    assert report.verdict.startswith("NOISY") and "not trustworthy" in report.verdict


def test_modified_artifact_is_refused(bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / "model.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="modified after edgeres wrote it"):
        runtime.load(copy)


def test_input_validation(bundle: Path) -> None:
    with runtime.load(bundle) as session:
        assert session.inputs[0] == TensorSpec("input", ("batch", 3, 32, 32), "float32")
        good = np.zeros((2, 3, 32, 32), np.float32)
        assert session.run(good)["logits"].shape == (2, 10)
        assert session.run({"input": good})["logits"].shape == (2, 10)
        with pytest.raises(InputError, match="input input is float64, the model takes float32"):
            session.run(good.astype(np.float64))
        with pytest.raises(InputError, match=r"has shape \(2, 3, 16, 32\).*dimension 2 differs"):
            session.run(np.zeros((2, 3, 16, 32), np.float32))
        with pytest.raises(InputError, match="4 dimensions"):
            session.run(np.zeros((3, 32, 32), np.float32))
        with pytest.raises(InputError, match=r"missing \['input'\], unknown \['image'\]"):
            session.run({"image": good})


def test_unavailable_provider_is_an_error_not_a_silent_fallback(bundle: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(ConfigError, match="has no CUDAExecutionProvider.*install onnxruntime-gpu"):
        runtime.load(bundle, device="cuda")
    with pytest.raises(ConfigError, match="unknown backend 'tflite'"):
        runtime.load(bundle, backend="tflite")


def test_runtime_never_imports_torch(bundle: Path) -> None:
    code = (
        "import sys, numpy as np\nfrom edgeres import runtime\n"
        f"s = runtime.load({str(bundle)!r})\ns.run(np.zeros((1, 3, 32, 32), np.float32))\n"
        "from edgeres.profile.latency import ProfileConfig, profile_session\nprofile_session(s, ProfileConfig(warmup=1, iters=2))\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_openvino_backend(bundle: Path) -> None:
    pytest.importorskip("openvino", reason="the OpenVINO extra is not installed (pip install 'edgeres[openvino]')")
    x = np.random.default_rng(0).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with runtime.load(bundle, backend="openvino") as ov, runtime.load(bundle) as ort_session:
        assert ov.backend == "openvino" and ov.provider == "CPU"
        np.testing.assert_allclose(ov.run(x)["logits"], ort_session.run(x)["logits"], rtol=1e-3, atol=1e-4)
        (report,) = profile_session(ov, ProfileConfig(warmup=2, iters=5))
        assert report.session["backend"] == "openvino"


def test_per_layer_profile_joins_every_mac(bundle: Path) -> None:
    path = bundle / "model.onnx"
    costs = layer_costs(path)
    timings = profile_layers(path, costs, runs=3)
    assert sum(t.macs for t in timings) == costs.totals["macs"]
    assert timings[0].time_ms >= timings[-1].time_ms and sum(t.share for t in timings) == pytest.approx(1.0)
    assert any(t.layer == "/layer1/layer1.0/conv1/Conv" and t.gmacs_per_s > 0 for t in timings)


def test_profile_bundle_saves_the_run(bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    run = profile_bundle(copy, ProfileConfig(batch_sizes=(1, 2), warmup=1, iters=3), threads=1)
    assert [(r["artifact"], r["batch"]) for r in run.rows] == [("model.onnx", 1), ("model.onnx", 2)]
    saved = json.loads(run.saved.read_text())
    assert saved["host"]["cpu"]["logical_cores"] >= 1 and "flags" in saved["host"]["cpu"]
    assert saved["host"]["versions"]["onnxruntime"]
    assert len(saved["raw_timings_ms"][0]["timings_ms"]) == 3
    assert run.saved.parent == copy / "profiles"
    Bundle.open(copy).verified_path("model.onnx")  # the manifest is untouched


def test_cli_profile_json_schema(bundle: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "b"
    shutil.copytree(bundle, copy)
    csv_path = tmp_path / "p.csv"
    result = CliRunner().invoke(cli, ["profile", str(copy), "--batch", "1,2", "--iters", "3", "--warmup", "1",
                                      "--threads", "1", "--json", "--csv", str(csv_path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    for row in rows:
        assert {"artifact", "precision", "backend", "provider", "device", "batch", "threads", "latency_ms",
                "throughput_ips", "peak_rss_mb", "stable"} <= set(row)
        assert set(row["latency_ms"]) == {"min", "mean", "p50", "p90", "p95", "p99", "max", "std"}
        assert row["backend"] == "onnxruntime" and row["threads"] == 1 and row["device"] == "cpu"
    assert csv_path.read_text().splitlines()[0].startswith("artifact,precision,backend")
    assert len(list((copy / "profiles").glob("*.json"))) == 1


def test_cli_profile_table_torch_baseline_and_errors(bundle: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["profile", str(bundle), "--backend", "torch", "--iters", "3", "--warmup", "1", "--no-save"])
    assert result.exit_code == 0, result.output
    assert "torch / eager" in result.output and "pytorch" in result.output
    result = runner.invoke(cli, ["profile", "resnet20", "--iters", "3", "--warmup", "1", "--layers", "3"])
    assert result.exit_code == 0, result.output
    assert "slowest layers" in result.output
    assert "unknown backend 'tvm'" in runner.invoke(cli, ["profile", str(bundle), "--backend", "tvm"]).output
    assert "--batch takes integers" in runner.invoke(cli, ["profile", str(bundle), "--batch", "one"]).output
    assert "unknown model 'nonet'" in runner.invoke(cli, ["profile", "nonet"]).output


def test_plot(bundle: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install 'edgeres[plot]')")
    result = CliRunner().invoke(cli, ["profile", str(bundle), "--iters", "3", "--warmup", "1", "--no-save",
                                      "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
