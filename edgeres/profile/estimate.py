"""Latency estimates for devices you do not have: a per-layer roofline from the device catalog.

Per layer of the graph (``edgeres inspect``'s cost table): time = max(FLOPs / effective peak, bytes
moved / effective bandwidth) + a per-layer overhead, summed. Effective peaks differ by layer kind (dense,
pointwise and depthwise convolutions, matmuls) and precision; activation traffic counts, not just
weights. Depthwise convolutions run on CUDA cores, not tensor cores. Activations that TensorRT and
ONNX Runtime fuse into the convolution before them cost nothing extra. The factors come from the
catalog for NVIDIA devices and from a fit to micro-benchmarks for the local CPU
(``edgeres devices calibrate``). It is an estimate, and every report says so and carries a band.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeres.bundle import Bundle
from edgeres.devices.catalog import Device, get_device
from edgeres.errors import ConfigError
from edgeres.export.layers import CostTable, layer_costs
from edgeres.precision import Precision

# Bytes per element relative to FP32 for weights and activations at each precision.
_BYTE_SCALE = {Precision.FP32: 1.0, Precision.FP16: 0.5, Precision.INT8: 0.25}
_FUSED = {"Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "LeakyRelu", "Flatten"}
_COMPUTE_KINDS = ("conv", "pointwise_conv", "depthwise_conv", "matmul")
# Relative error band of an estimate from catalog factors alone, from the on-paper validation against
# published Jetson latencies (benchmarks/estimator.py); a calibrated CPU fit states its own.
CATALOG_BAND = (0.6, 1.6)


@dataclass(frozen=True)
class LayerEstimate:
    """One layer's estimated time and what bounds it."""

    name: str
    kind: str
    macs: int
    bytes_moved: int
    compute_ms: float
    memory_ms: float
    overhead_ms: float
    time_ms: float
    bound: str


@dataclass(frozen=True)
class EstimateReport:
    """An estimated latency (never a measurement).

    Attributes:
        device: Catalog name (or ``cpu (calibrated)``).
        precision: Precision assumed.
        power_mode: The power mode used, if any.
        batch: Batch size.
        latency_ms: ``value``, ``low``, ``high``.
        layers: Per-layer estimates, in graph order.
        assumptions: The peaks, bandwidth, efficiencies and overhead used.
    """

    device: str
    precision: str
    power_mode: str | None
    batch: int
    latency_ms: dict[str, float]
    layers: list[LayerEstimate]
    assumptions: dict[str, Any] = field(default_factory=dict)
    estimate: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with ``estimate: true``."""
        data = asdict(self)
        data["layers"] = [asdict(layer) for layer in self.layers]
        return data

    def top(self, count: int) -> list[LayerEstimate]:
        """The ``count`` slowest layers."""
        return sorted(self.layers, key=lambda layer: layer.time_ms, reverse=True)[:count]


@dataclass(frozen=True)
class Throughput:
    """Effective rates an estimate uses: ops/s per layer kind, bytes/s, seconds per layer, and the band."""

    compute: dict[str, float]
    bandwidth: float
    overhead_s: float
    elementwise_overhead: bool
    band: tuple[float, float]
    source: str
    call_overhead_s: float = 0.0
    rate_law: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)

    def rate(self, kind: str, flops: float) -> float:
        """Operations/s for a layer of this kind and size: the fitted power law within its observed range,
        else the kind's single effective rate."""
        law = self.rate_law.get(kind)
        if law is None or flops <= 0:
            return self.compute[kind]
        log_scale, exponent, low, high = law
        return float(min(max(math.exp(log_scale + exponent * math.log(flops)), low), high))


def device_throughput(device: Device, precision: Precision, power_mode: str | None) -> tuple[Throughput, str | None]:
    """Effective rates of a catalog device at a precision and power mode.

    Raises:
        ConfigError: The device cannot run that precision (e.g. INT8 on a Jetson Nano).
    """
    key = precision.value
    if device.peaks.get(key) is None:
        raise ConfigError(f"{device.name} has no {key.upper()} support in TensorRT; estimate with --precision fp16")
    mode = device.power_mode(power_mode)
    scale = mode.gpu_clock_hz / device.max_gpu_clock_hz if mode and device.max_gpu_clock_hz else 1.0
    bandwidth = (mode.memory_bandwidth if mode and mode.memory_bandwidth else device.memory_bandwidth) * device.efficiency["bandwidth"]
    eff = device.efficiency
    tensor_peak = device.peaks[key] * scale
    cuda_peak = (device.cuda_core_peaks.get(key) or device.peaks[key]) * scale
    compute = {
        "conv": tensor_peak * eff["conv"],
        "pointwise_conv": tensor_peak * eff["pointwise_conv"],
        "matmul": tensor_peak * eff["matmul"],
        "depthwise_conv": cuda_peak * eff["depthwise_conv"],
    }
    return Throughput(compute, bandwidth, eff["layer_overhead_us"] * 1e-6, device.family == "cpu", CATALOG_BAND,
                      f"catalog ({device.file.name})"), mode.name if mode else None


def estimate_latency(
    bundle_or_onnx: str | Path | CostTable,
    device: str | Device,
    precision: str | Precision = Precision.FP32,
    power_mode: str | None = None,
    *,
    batch: int = 1,
    throughput: Throughput | None = None,
) -> EstimateReport:
    """Estimate the latency of a model on a device.

    Args:
        bundle_or_onnx: A bundle (its FP32 ``model.onnx`` is read), an ONNX file, or a cost table.
        device: Catalog name or device; ``cpu`` means this machine, calibrated.
        precision: FP32, FP16 or INT8 (bytes and peaks follow it).
        power_mode: A Jetson power mode (default: the fastest).
        batch: Batch size.
        throughput: Rates to use instead of the device's (e.g. a CPU calibration).

    Raises:
        ConfigError: Unknown device or power mode, a precision the device lacks, or an uncalibrated CPU.
    """
    precision = Precision.parse(precision)
    costs = _costs(bundle_or_onnx, batch)
    if throughput is None:
        if isinstance(device, str) and device == "cpu":
            from edgeres.profile.calibrate import load_calibration

            throughput = load_calibration().throughput(precision)
            name, mode = "cpu (calibrated)", None
        else:
            device = get_device(device) if isinstance(device, str) else device
            throughput, mode = device_throughput(device, precision, power_mode)
            name = device.name
    else:
        name, mode = (device if isinstance(device, str) else device.name), power_mode
    scale = _BYTE_SCALE[precision]
    layers = []
    for layer in costs.layers:
        moved = int((layer.param_bytes + layer.activation_bytes_in + layer.activation_bytes_out) * scale)
        if layer.op_type in _FUSED or layer.kind == "quantize":
            continue  # fused into the layer before it
        flops = 2 * layer.macs
        compute_s = flops / throughput.rate(layer.kind, flops) if layer.kind in _COMPUTE_KINDS and flops else 0.0
        memory_s = moved / throughput.bandwidth
        overhead_s = throughput.overhead_s if layer.kind in _COMPUTE_KINDS or layer.kind == "pool" or throughput.elementwise_overhead else 0.0
        time_s = max(compute_s, memory_s) + overhead_s
        layers.append(LayerEstimate(layer.name, layer.kind, layer.macs, moved, compute_s * 1e3, memory_s * 1e3, overhead_s * 1e3,
                                    time_s * 1e3, "compute" if compute_s >= memory_s else "memory"))
    total = sum(layer.time_ms for layer in layers) + throughput.call_overhead_s * 1e3
    low, high = throughput.band
    assumptions = {
        "source": throughput.source,
        "effective_gops": {k: round(v / 1e9, 1) for k, v in throughput.compute.items()},
        "effective_bandwidth_gbs": round(throughput.bandwidth / 1e9, 1),
        "layer_overhead_us": round(throughput.overhead_s * 1e6, 2),
        "call_overhead_us": round(throughput.call_overhead_s * 1e6, 2),
        "fused": sorted(_FUSED),
        "band": list(throughput.band),
    }
    return EstimateReport(name, precision.value, mode, batch, {"value": total, "low": total * low, "high": total * high}, layers, assumptions)


def _costs(source: str | Path | CostTable, batch: int) -> CostTable:
    if isinstance(source, CostTable):
        return source
    path = Path(source)
    if path.is_dir():
        bundle = Bundle.open(path)
        onnx_path = bundle.verified_path("model.onnx")
        shape = (batch, *bundle.manifest["inputs"][0]["example_shape"])
        return layer_costs(onnx_path, {bundle.manifest["inputs"][0]["name"]: shape})
    return layer_costs(path, batch=batch)
