"""Calibrate the estimator on this CPU: micro-benchmarks through the real runtime, a fit, saved for reuse.

Single-layer ONNX graphs (dense, pointwise and depthwise convolutions of several sizes, matmuls,
elementwise additions) run in ONNX Runtime with the given threads, in FP32 and as INT8 QDQ. The fit:
a per-layer overhead and an effective bandwidth from the elementwise runs (time = overhead + bytes /
bandwidth), then an effective throughput per layer kind (the median of FLOPs / (time - overhead)).
Only micro-benchmarks enter the fit; whole networks are what it is validated on.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeres.bundle import now, write_atomic
from edgeres.devices.host import cpu_info
from edgeres.errors import ConfigError
from edgeres.export.layers import layer_costs
from edgeres.precision import Precision
from edgeres.profile.estimate import Throughput

# (kind, in channels, out channels, spatial size, kernel) for the convolutions.
CONV_CASES = (
    ("conv", 16, 16, 32, 3), ("conv", 32, 32, 16, 3), ("conv", 64, 64, 8, 3),
    ("conv", 32, 64, 56, 3), ("conv", 64, 64, 56, 3), ("conv", 128, 128, 28, 3), ("conv", 256, 256, 14, 3), ("conv", 3, 32, 112, 3),
    ("pointwise_conv", 32, 96, 56, 1), ("pointwise_conv", 144, 24, 56, 1), ("pointwise_conv", 192, 64, 28, 1),
    ("pointwise_conv", 256, 1024, 14, 1), ("pointwise_conv", 960, 160, 7, 1),
    ("depthwise_conv", 96, 96, 56, 3), ("depthwise_conv", 144, 144, 56, 3), ("depthwise_conv", 384, 384, 14, 3),
    ("depthwise_conv", 960, 960, 7, 3), ("depthwise_conv", 240, 240, 14, 5),
)
MATMUL_CASES = ((512, 1000), (1280, 1000), (2048, 1000), (576, 1024))
ADD_CASES = ((64, 56), (256, 28), (24, 56), (1024, 14), (32, 112))
CPU_BAND = (0.55, 1.7)


@dataclass(frozen=True)
class Calibration:
    """A fitted CPU throughput model.

    Attributes:
        host: CPU model and flags it was measured on.
        threads: Threads used.
        fits: Per precision: ``compute`` (FLOP/s per kind), ``bandwidth`` (B/s), ``overhead_s``.
        points: The micro-benchmark measurements.
        created: When.
    """

    host: dict[str, Any]
    threads: int
    fits: dict[str, dict[str, Any]]
    points: list[dict[str, Any]]
    created: str

    def throughput(self, precision: Precision) -> Throughput:
        """The estimator rates at a precision.

        Raises:
            ConfigError: That precision was not calibrated.
        """
        fit = self.fits.get(precision.value)
        if fit is None:
            raise ConfigError(f"the CPU calibration has no {precision.value}; run 'edgeres devices calibrate --device cpu'")
        # The band is what the validation measured (benchmarks/README.md): estimates were 40% over to
        # 84% under the truth, so the true latency lay between 0.54x and 1.67x the estimate.
        return Throughput(dict(fit["compute"]), fit["bandwidth"], fit["overhead_s"], False, CPU_BAND,
                          f"calibration of {self.host.get('model')} ({self.threads} threads, {self.created})",
                          fit.get("call_overhead_s", 0.0),
                          {k: tuple(v) for k, v in fit.get("rate_law", {}).items()})


def calibration_path(threads: int) -> Path:
    """Where the fit for this CPU and thread count is kept (``$EDGERES_CACHE`` or ``~/.cache/edgeres``)."""
    root = Path(os.environ.get("EDGERES_CACHE", Path.home() / ".cache" / "edgeres"))
    info = cpu_info()
    key = hashlib.sha256(json.dumps([info["model"], info["flags"], info["logical_cores"], threads]).encode()).hexdigest()[:12]
    return root / f"cpu-calibration-{key}.json"


def load_calibration(threads: int = 0) -> Calibration:
    """The saved fit for this CPU.

    Raises:
        ConfigError: None saved yet.
    """
    path = calibration_path(threads)
    if not path.is_file():
        raise ConfigError(f"this CPU is not calibrated for {threads or 'default'} threads; run 'edgeres devices calibrate --device cpu"
                          + (f" --threads {threads}" if threads else "") + "' first (about a minute)")
    data = json.loads(path.read_text())
    return Calibration(data["host"], data["threads"], data["fits"], data["points"], data["created"])


def conv_model(in_chs: int, out_chs: int, size: int, kernel: int, depthwise: bool) -> onnx.ModelProto:
    """A one-convolution ONNX graph (with bias), batch 1."""
    rng = np.random.default_rng(0)
    group = in_chs if depthwise else 1
    weight = rng.standard_normal((out_chs, in_chs // group, kernel, kernel)).astype(np.float32) * 0.1
    node = helper.make_node("Conv", ["input", "w", "b"], ["output"], name="conv", group=group, pads=[kernel // 2] * 4)
    return _model([node], [1, in_chs, size, size], [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.zeros(out_chs, np.float32), "b")])


def matmul_model(in_features: int, out_features: int) -> onnx.ModelProto:
    """A one-Gemm ONNX graph, batch 1."""
    weight = np.random.default_rng(0).standard_normal((out_features, in_features)).astype(np.float32) * 0.05
    node = helper.make_node("Gemm", ["input", "w"], ["output"], name="fc", transB=1)
    return _model([node], [1, in_features], [numpy_helper.from_array(weight, "w")])


def add_model(channels: int, size: int) -> onnx.ModelProto:
    """A residual-style elementwise Add of two activations, batch 1."""
    node = helper.make_node("Add", ["input", "input2"], ["output"], name="add")
    graph = helper.make_graph([node], "add", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels, size, size]),
                                               helper.make_tensor_value_info("input2", TensorProto.FLOAT, [1, channels, size, size])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _model(nodes: list, shape: list[int], initializers: list) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _cases() -> list[tuple[str, str, onnx.ModelProto]]:
    cases = [(kind, f"{kind} {cin}->{cout} {size}x{size} k{k}", conv_model(cin, cout, size, k, kind == "depthwise_conv"))
             for kind, cin, cout, size, k in CONV_CASES]
    cases += [("matmul", f"matmul {i}->{o}", matmul_model(i, o)) for i, o in MATMUL_CASES]
    cases += [("elementwise", f"add {c}x{s}x{s}", add_model(c, s)) for c, s in ADD_CASES]
    return cases


def _time(path: Path, threads: int, calls: int) -> float:
    from edgeres.runtime.ort import OrtSession

    session = OrtSession(path, "cpu", threads)
    feeds = {spec.name: np.random.default_rng(0).standard_normal([d if isinstance(d, int) else 1 for d in spec.shape]).astype(np.float32)
             for spec in session.inputs}
    for _ in range(5):
        session._run(feeds)
    samples = []
    for _ in range(calls):
        begin = time.perf_counter()
        session._run(feeds)
        samples.append(time.perf_counter() - begin)
    return float(np.median(samples))


def _quantize(path: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    model = onnx.load(str(path))
    shapes = {i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input}

    class Reader:
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.items = iter([{n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()} for _ in range(4)])

        def get_next(self):  # noqa: ANN202
            return next(self.items, None)

    from edgeres.optimize.ort import _quiet

    with _quiet():
        quantize_static(str(path), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def calibrate_cpu(threads: int = 0, *, calls: int = 30, precisions: tuple[str, ...] = ("fp32", "int8"),
                  on_progress=None) -> Calibration:  # noqa: ANN001
    """Run the micro-benchmarks, fit, and save the fit for this CPU and thread count."""
    progress = on_progress or (lambda text, done, total: None)
    cases = _cases()
    points = []
    with tempfile.TemporaryDirectory(prefix="edgeres-calib-") as work:
        for index, (kind, label, model) in enumerate(cases):
            path = Path(work) / f"{index}.onnx"
            onnx.save(model, str(path))
            costs = layer_costs(path)
            layer = costs.layers[0]
            moved = layer.param_bytes + layer.activation_bytes_in + layer.activation_bytes_out
            for precision in precisions:
                progress(f"{label} ({precision})", index + 1, len(cases))
                target = path
                if precision == "int8":
                    if kind == "elementwise":
                        continue
                    target = Path(work) / f"{index}.int8.onnx"
                    _quantize(path, target)
                seconds = _time(target, threads, calls)
                scale = 0.25 if precision == "int8" else 1.0
                points.append({"kind": kind, "label": label, "precision": precision, "flops": 2 * layer.macs,
                               "bytes": int(moved * scale), "seconds": seconds})
    fits = {p: fit_points([x for x in points if x["precision"] == p], [x for x in points if x["precision"] == "fp32" and x["kind"] == "elementwise"])
            for p in precisions}
    calibration = Calibration(cpu_info(), threads, fits, points, now())
    path = calibration_path(threads)
    write_atomic(path, (json.dumps(asdict(calibration), indent=1) + "\n").encode())
    return calibration


def fit_points(points: list[dict[str, Any]], elementwise: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit the CPU model from micro-benchmark times.

    A one-layer graph costs the runtime's fixed per-call overhead plus the layer. The call overhead and
    the bandwidth come from the elementwise runs (time = call + bytes / bandwidth). For each layer kind, the
    throughput grows with the layer's size: a power law rate = exp(a) * FLOPs^b fitted to FLOPs /
    (time - call), used within the range of rates observed (never extrapolated). A whole network costs one
    call overhead plus its layers. Charging the call's cost to every layer overestimated ResNet-56 by 2x;
    a per-kind fixed cost from a linear fit overestimated it 5x; a single median rate per kind got 17% of
    predictions within 10% (benchmarks/README.md).

    Raises:
        ConfigError: Too few points to fit.
    """
    if len(elementwise) < 2:
        raise ConfigError("the calibration needs at least two elementwise measurements")
    bytes_, seconds = np.array([p["bytes"] for p in elementwise], float), np.array([p["seconds"] for p in elementwise], float)
    slope, intercept = np.polyfit(bytes_, seconds, 1)
    call = max(float(intercept), 0.0)
    bandwidth = 1.0 / slope if slope > 0 else float(np.median(bytes_ / seconds))
    compute, laws = {}, {}
    for kind in ("conv", "pointwise_conv", "depthwise_conv", "matmul"):
        kind_points = [p for p in points if p["kind"] == kind]
        if len(kind_points) < 2:
            raise ConfigError(f"too few {kind} measurements to fit")
        flops = np.array([p["flops"] for p in kind_points], float)
        rates = flops / np.array([max(p["seconds"] - call, 1e-7) for p in kind_points], float)
        exponent, log_scale = np.polyfit(np.log(flops), np.log(rates), 1)
        compute[kind] = float(np.median(rates))
        laws[kind] = [float(log_scale), float(exponent), float(rates.min()), float(rates.max())]
    return {"compute": compute, "bandwidth": float(bandwidth), "overhead_s": 0.0, "call_overhead_s": call, "rate_law": laws}
