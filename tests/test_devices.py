"""The device catalog, detection, the estimator and its calibration, the trtexec readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from edgeres.cli import cli
from edgeres.devices.catalog import get_device, load_catalog, load_device_file
from edgeres.devices.detect import detect, jetson_from_model, parse_tegra_release, resolve_device
from edgeres.errors import ConfigError
from edgeres.export.layers import layer_costs
from edgeres.precision import Precision
from edgeres.profile.estimate import Throughput, estimate_latency
from edgeres.resources import data_files
from tests.test_inspect import tiny_graph

REQUIRED = {"jetson-nano", "jetson-xavier-nx", "jetson-agx-xavier", "jetson-orin-nano-4gb", "jetson-orin-nano-8gb",
            "jetson-orin-nx-8gb", "jetson-orin-nx-16gb", "jetson-agx-orin-32gb", "jetson-agx-orin-64gb", "rtx-4090",
            "a100-sxm4-80gb", "h100-sxm5-80gb", "generic-x86-cpu"}


def test_every_shipped_device_loads_with_sources() -> None:
    catalog = load_catalog()
    assert REQUIRED <= set(catalog)
    assert len(catalog) == len(data_files("devices"))
    for device in catalog.values():
        assert device.sources and device.memory_bandwidth > 0
        if device.family != "cpu":
            assert device.peaks["fp16"] > 0 and device.max_gpu_clock_hz > 0 and device.compute_capability
    orin = catalog["jetson-agx-orin-64gb"]
    # NVIDIA quotes 275 sparse INT8 TOPS (GPU 170 + DLAs 105): the catalog holds the dense GPU figure.
    assert orin.peaks["int8"] == pytest.approx(85.2e12, rel=0.01) and orin.dla_count == 2
    assert orin.power_mode("50W").nvpmodel_id == 3 and orin.power_mode(None).name == "MAXN"
    assert catalog["jetson-nano"].peaks["int8"] is None
    assert catalog["jetson-agx-xavier"].peaks["int8"] == pytest.approx(22.6e12, rel=0.01)  # NVIDIA: 22 GPU TOPS


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda d: d.update(colour="green"), "unknown key(s) colour"),
        (lambda d: d["memory"].update(bandwidth=204.8), "memory.bandwidth: 204.8 has no unit"),
        (lambda d: d["memory"].update(bandwidth="204.8 GHz"), "is not a bandwidth with a unit"),
        (lambda d: d["gpu"].update(sm_count="sixteen"), "'sm_count' must be int, got str"),
        (lambda d: d["gpu"]["peak"].update(int4="1 TOPS"), "gpu.peak: unknown key(s) int4"),
        (lambda d: d.pop("sources"), "the key 'sources' is required"),
        (lambda d: d["power_modes"][1].update(nvpmodel_id=0), "two modes share an nvpmodel_id"),
        (lambda d: d.update(family="fpga"), "'family' must be one of jetson, gpu, cpu"),
    ],
)
def test_broken_device_files_name_file_and_key(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    data = yaml.safe_load(next(p for p in data_files("devices") if p.stem == "jetson-agx-orin-64gb").read_text())
    change(data)
    path = tmp_path / "broken-board.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_device_file(path)
    assert str(info.value).startswith("broken-board.yaml") and message in str(info.value)


def test_unknown_device_and_power_mode() -> None:
    with pytest.raises(ConfigError, match="did you mean jetson-agx-orin-64gb"):
        get_device("jetson-agx-orin-64")
    with pytest.raises(ConfigError, match="has no power mode '99W'; it has MAXN, 15W, 30W, 50W"):
        get_device("jetson-agx-orin-64gb").power_mode("99W")


def test_detection_from_the_real_jetson_fixture(shared_fixtures: Path, tmp_path: Path) -> None:
    line = (shared_fixtures / "jetson_sysinfo" / "nv_tegra_release_jetson-nano_r32.7.6_line1.txt").read_text()
    info = parse_tegra_release(line)
    assert info == {"l4t": "32.7.6", "board": "t210ref", "date": "Tue Nov 5 07:46:14 UTC 2024", "jetpack": "4.6"}
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nv_tegra_release").write_text(line)
    (tmp_path / "proc" / "device-tree").mkdir(parents=True)
    (tmp_path / "proc" / "device-tree" / "model").write_bytes(b"NVIDIA Jetson Nano Developer Kit\x00")
    found = detect(tmp_path)
    assert found.kind == "jetson" and found.name == "jetson-nano" and found.catalog
    assert found.details["model"] == "NVIDIA Jetson Nano Developer Kit"
    assert jetson_from_model("NVIDIA Jetson AGX Orin Developer Kit\x00") == "jetson-agx-orin-64gb"
    assert jetson_from_model("NVIDIA Jetson Orin NX Engineering Reference Developer Kit 16GB") == "jetson-orin-nx-16gb"


def test_detection_on_this_machine() -> None:
    found = detect()
    if found.kind == "cpu":
        assert found.details["cpu"]["logical_cores"] >= 1
        with pytest.raises(ConfigError, match="--device jetson means the Jetson this runs on, and this is not one"):
            resolve_device("jetson")
    assert resolve_device("rtx-4090") == "rtx-4090"


def test_estimator_arithmetic_on_a_hand_checkable_graph() -> None:
    """Conv 864 MACs + Gemm 15 MACs; compute 2 GOP/s, bandwidth 1 GB/s, 1 us per layer."""
    costs = layer_costs(tiny_graph())
    rates = Throughput({"conv": 2e9, "pointwise_conv": 2e9, "depthwise_conv": 2e9, "matmul": 2e9}, 1e9, 1e-6, False, (0.5, 2.0), "test")
    report = estimate_latency(costs, "test-device", "fp32", throughput=rates)
    layers = {layer.name: layer for layer in report.layers}
    assert set(layers) == {"conv", "pool", "fc"}  # the ReLU is fused into the conv
    conv = layers["conv"]
    assert conv.compute_ms == pytest.approx(2 * 864 / 2e9 * 1e3)
    assert conv.memory_ms == pytest.approx((228 + 128 + 192) / 1e9 * 1e3)
    assert conv.time_ms == pytest.approx(max(conv.compute_ms, conv.memory_ms) + 1e-3) and conv.bound == "compute"
    pool = layers["pool"]
    assert pool.compute_ms == 0 and pool.time_ms == pytest.approx((192 + 12) / 1e9 * 1e3 + 1e-3)
    total = sum(layer.time_ms for layer in report.layers)
    assert report.latency_ms == pytest.approx({"value": total, "low": total * 0.5, "high": total * 2.0})
    int8 = estimate_latency(costs, "test-device", "int8", throughput=rates)
    assert {l.name: l.bytes_moved for l in int8.layers}["conv"] == (228 + 128 + 192) // 4


def test_catalog_estimates_respect_precision_and_power_mode(tmp_path: Path) -> None:
    from edgeres.export import ExportConfig, export_onnx, load_source

    export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "r20"))
    maxn = estimate_latency(tmp_path / "r20", "jetson-agx-orin-64gb", "int8")
    slow = estimate_latency(tmp_path / "r20", "jetson-agx-orin-64gb", "int8", "15W")
    fp16 = estimate_latency(tmp_path / "r20", "jetson-agx-orin-64gb", "fp16")
    assert maxn.power_mode == "MAXN" and slow.power_mode == "15W"
    assert slow.latency_ms["value"] > maxn.latency_ms["value"] and fp16.latency_ms["value"] > maxn.latency_ms["value"]
    assert maxn.latency_ms["low"] < maxn.latency_ms["value"] < maxn.latency_ms["high"]
    with pytest.raises(ConfigError, match="jetson-nano has no INT8 support"):
        estimate_latency(tmp_path / "r20", "jetson-nano", "int8")


@pytest.mark.slow
def test_cpu_calibration_fit_on_real_micro_benchmarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeres.profile.calibrate import calibrate_cpu, calibration_path, load_calibration

    monkeypatch.setenv("EDGERES_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="run 'edgeres devices calibrate --device cpu"):
        load_calibration(1)
    calibration = calibrate_cpu(1, calls=5, precisions=("fp32",))
    assert calibration_path(1).is_file() and load_calibration(1).fits == calibration.fits
    fit = calibration.fits["fp32"]
    points = [p for p in calibration.points if p["precision"] == "fp32"]
    assert {p["kind"] for p in points} == {"conv", "pointwise_conv", "depthwise_conv", "matmul", "elementwise"}
    assert all(p["seconds"] > 0 for p in points)
    # Depthwise convolutions reach a small fraction of what dense ones do on a CPU (memory-bound).
    assert fit["compute"]["depthwise_conv"] < fit["compute"]["conv"]
    assert set(fit["rate_law"]) == {"conv", "pointwise_conv", "depthwise_conv", "matmul"}
    assert 0 < fit["call_overhead_s"] < 1e-2 and fit["bandwidth"] > 1e8  # paid once per call, not per layer
    rates = load_calibration(1).throughput(Precision.FP32)
    assert rates.compute == fit["compute"]
    low, high = fit["rate_law"]["conv"][2:]
    assert low <= rates.rate("conv", 1e3) <= high and low <= rates.rate("conv", 1e12) <= high  # never extrapolated


def test_trtexec_profile_and_layer_info_from_real_fixtures(shared_fixtures: Path) -> None:
    from edgeres.profile.trtexec import join_profile, read_layer_info, read_profile, read_times

    folder = shared_fixtures / "trtexec_json"
    count, layers = read_profile(folder / "trex_mobilenet.qat.onnx.engine.profile.json")
    assert count == 6610 and len(layers) == 73
    assert layers[0].name == "QuantizeLinear_2" and layers[0].average_ms == pytest.approx(0.00474854)
    assert sum(layer.percentage for layer in layers) == pytest.approx(100, abs=0.01)
    info = read_layer_info(folder / "trex_mobilenet.qat.onnx.engine.graph.json")
    assert len(info) == 73
    first_conv = next(layer for layer in info if layer.parameter_type == "Convolution")
    assert first_conv.precision == "int8" and first_conv.kernel == [3, 3] and first_conv.outputs[0] == [1, 32, 112, 112]
    assert "Conv_12" in first_conv.fused_onnx_nodes and "Clip_16" in first_conv.fused_onnx_nodes
    joined = join_profile(layers, info)
    assert all(row["layer_type"] for row in joined) and joined[0]["average_ms"] >= joined[-1]["average_ms"]
    times = read_times(folder / "trex_mobilenet.qat.onnx.engine.timing.json.gz")
    assert times["latencyMs"]["p50"] == pytest.approx(0.3513, abs=1e-3) and times["computeMs"]["min"] > 0


def test_trtexec_readers_refuse_other_files(shared_fixtures: Path) -> None:
    from edgeres.profile.trtexec import TrtexecFormatError, read_layer_info, read_profile

    folder = shared_fixtures / "trtexec_json"
    with pytest.raises(TrtexecFormatError, match="not a trtexec --exportProfile file"):
        read_profile(folder / "trex_mobilenet.qat.onnx.engine.graph.json")
    with pytest.raises(TrtexecFormatError, match="not a trtexec --exportLayerInfo file"):
        read_layer_info(folder / "trex_mobilenet.qat.onnx.engine.profile.json")


def test_cli_devices_and_estimate(tmp_path: Path) -> None:
    from edgeres.export import ExportConfig, export_onnx, load_source

    runner = CliRunner()
    listing = runner.invoke(cli, ["devices"])
    assert listing.exit_code == 0 and "jetson-agx-orin-64gb" in listing.output and "Data Sheet" in listing.output
    rows = json.loads(runner.invoke(cli, ["devices", "--json"]).stdout)
    assert {row["name"] for row in rows} >= REQUIRED and all(row["sources"] for row in rows)
    shown = runner.invoke(cli, ["devices", "show", "jetson-orin-nano-8gb"])
    assert shown.exit_code == 0 and "MAXN_SUPER" in shown.output and "sources:" in shown.output
    export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "r20"))
    result = runner.invoke(cli, ["profile", str(tmp_path / "r20"), "--device", "jetson-agx-orin-64gb", "--estimate",
                                 "--precision", "int8", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["estimate"] is True and data["device"] == "jetson-agx-orin-64gb" and data["precision"] == "int8"
    assert data["power_mode"] == "MAXN" and set(data["latency_ms"]) == {"value", "low", "high"} and data["layers"]
    table = runner.invoke(cli, ["profile", str(tmp_path / "r20"), "--device", "jetson-orin-nano-8gb", "--estimate"])
    assert "ESTIMATE (not a measurement)" in table.output
    refused = runner.invoke(cli, ["profile", str(tmp_path / "r20"), "--device", "jetson-agx-orin-64gb"])
    assert refused.exit_code != 0 and "add --estimate" in refused.output
