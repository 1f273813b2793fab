"""Per-layer time from ONNX Runtime's profiler, joined with the graph's per-layer cost.

ONNX Runtime renames what it fuses: an FP32 convolution fused with its ReLU6 runs as a kernel named
after the activation's output tensor (``/stem/act/Clip_output_0_nchwc``), a quantized one as
``/stem/conv/Conv_token_111``. The join strips those decorations, maps tensor names to the node that
produced them, and charges a fused activation to the convolution it follows, so each kernel's time
meets the MACs and bytes of the layer from ``edgeres inspect``: achieved GMAC/s per layer.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx

from edgeres.export.layers import CostTable, LayerCost
from edgeres.profile.latency import make_inputs
from edgeres.runtime.ort import OrtSession

_DECORATIONS = re.compile(r"(_token_\d+|_nchwc|_kernel_time)+$|^InsertedPrecisionFreeCast_")
# Activations ONNX Runtime fuses into the convolution before them (Add: a fused residual sum).
_FUSABLE = {"Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "LeakyRelu", "Add"}


@dataclass(frozen=True)
class LayerTiming:
    """One runtime kernel, its time per call, and the graph layer it runs.

    Attributes:
        kernel: The runtime's node name.
        op_type: The kernel's operator (e.g. ``QLinearConv``, fused ``Conv``).
        layer: The graph node it was joined to, or ``None``.
        time_ms: Mean time per call.
        share: Fraction of all kernel time.
        macs: MACs of the joined layer (0 when none).
        gmacs_per_s: Achieved throughput (MACs / time).
        bytes_moved: Parameter plus activation bytes of the joined layer.
    """

    kernel: str
    op_type: str
    layer: str | None
    time_ms: float
    share: float
    macs: int
    gmacs_per_s: float
    bytes_moved: int

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def profile_layers(path: str | Path, costs: CostTable, *, batch: int = 1, threads: int = 0, runs: int = 20) -> list[LayerTiming]:
    """Run ONNX Runtime's profiler over ``runs`` calls; mean kernel time per call, joined with ``costs``.

    Returns:
        Kernels sorted by time, largest first.
    """
    with tempfile.TemporaryDirectory(prefix="edgeres-prof-") as work:
        session = OrtSession(path, "cpu", threads, profile_file_prefix=str(Path(work) / "ort"))
        feeds = session.validate(make_inputs(session, batch))
        session._run(feeds)  # the first call allocates; keep it out of the profile's average
        for _ in range(runs):
            session._run(feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    ops: dict[str, str] = {}
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            totals[event["name"]] += event["dur"] / 1e3
            counts[event["name"]] += 1
            ops[event["name"]] = event.get("args", {}).get("op_name", "")
    graph = onnx.load(str(path), load_external_data=False).graph
    join = _joiner(graph, {layer.name: layer for layer in costs.layers})
    per_call = {name: totals[name] / counts[name] for name in totals}
    grand = sum(per_call.values()) or 1.0
    timings = []
    charged: set[str] = set()  # each layer's MACs go to its slowest kernel only
    for name, ms in sorted(per_call.items(), key=lambda item: item[1], reverse=True):
        layer = join(name)
        macs = layer.macs if layer and layer.name not in charged else 0
        if layer:
            charged.add(layer.name)
        moved = (layer.param_bytes + layer.activation_bytes_in + layer.activation_bytes_out) if layer else 0
        timings.append(LayerTiming(
            _DECORATIONS.sub("", name), ops[name], layer.name if layer else None, ms, ms / grand, macs * batch,
            macs * batch / (ms * 1e6) if ms > 0 and macs else 0.0, moved * batch,
        ))
    return sorted(timings, key=lambda t: t.time_ms, reverse=True)


def _joiner(graph: onnx.GraphProto, layers: dict[str, LayerCost]):  # noqa: ANN202
    by_name = {node.name: node for node in graph.node}
    producer = {out: node for node in graph.node for out in node.output}

    def join(kernel: str) -> LayerCost | None:
        name = _DECORATIONS.sub("", kernel)
        node = by_name.get(name) or producer.get(name)
        if node is not None and node.op_type in _FUSABLE and node.input:
            # A fused activation: the kernel does the work of the convolution it follows.
            upstream = producer.get(node.input[0])
            if upstream is not None and upstream.op_type in ("Conv", "Gemm", "MatMul"):
                node = upstream
        return layers.get(node.name) if node is not None else None

    return join
