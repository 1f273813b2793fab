"""Readers of trtexec's JSON exports: per-layer profiles, layer information, per-iteration timings.

These are what real TensorRT runs produce (``--exportProfile``, ``--exportLayerInfo`` with
``--profilingVerbosity=detailed``, ``--exportTimes``); edgeres reads them to show per-layer time on a
device and, joined with the layer information, each layer's kind and precision, which is what the
estimator's NVIDIA efficiency factors are fitted from. Pure JSON; no TensorRT needed.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeres.errors import EdgeresError
from edgeres.profile.latency import latency_stats


class TrtexecFormatError(EdgeresError):
    """A file is not the trtexec export it was read as."""


@dataclass(frozen=True)
class TrtLayerTime:
    """One engine layer in an ``--exportProfile`` file (times in ms per inference)."""

    name: str
    average_ms: float
    median_ms: float
    total_ms: float
    percentage: float


@dataclass(frozen=True)
class TrtLayerInfo:
    """One engine layer from ``--exportLayerInfo``: its type, what it fused, precision, shapes."""

    name: str
    layer_type: str
    parameter_type: str | None
    precision: str | None
    inputs: list[list[int]]
    outputs: list[list[int]]
    weights: int
    groups: int | None
    kernel: list[int] | None
    tactic: str | None

    @property
    def fused_onnx_nodes(self) -> list[str]:
        """The ONNX nodes TensorRT fused into this layer (from its ``a + b + PWN(c)`` name)."""
        parts = []
        for part in self.name.replace("PWN(", "").replace(")", "").split(" + "):
            parts.append(part.strip())
        return [p for p in parts if p]


def _load(path: str | Path) -> Any:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TrtexecFormatError(f"cannot read {path} as trtexec JSON: {exc}") from exc


def read_profile(path: str | Path) -> tuple[int, list[TrtLayerTime]]:
    """Read an ``--exportProfile`` file: ``(iterations, layers)``.

    Raises:
        TrtexecFormatError: Not a trtexec profile (a list whose first element holds ``count``).
    """
    data = _load(path)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "count" not in data[0]:
        raise TrtexecFormatError(f"{path} is not a trtexec --exportProfile file (expected [{{'count': N}}, layers...])")
    layers = []
    for entry in data[1:]:
        try:
            layers.append(TrtLayerTime(entry["name"], float(entry["averageMs"]), float(entry.get("medianMs", entry["averageMs"])),
                                       float(entry["timeMs"]), float(entry["percentage"])))
        except (KeyError, TypeError, ValueError) as exc:
            raise TrtexecFormatError(f"{path}: a layer entry lacks {exc}: {entry}") from exc
    return int(data[0]["count"]), layers


def read_layer_info(path: str | Path) -> list[TrtLayerInfo]:
    """Read an ``--exportLayerInfo`` file (``{"Layers": [...], "Bindings": [...]}``, detailed verbosity).

    Raises:
        TrtexecFormatError: No ``Layers`` list, or layers given only as names (build with
            ``--profilingVerbosity=detailed``).
    """
    data = _load(path)
    layers = data.get("Layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise TrtexecFormatError(f"{path} is not a trtexec --exportLayerInfo file (no 'Layers' list)")
    if layers and isinstance(layers[0], str):
        raise TrtexecFormatError(f"{path} lists layer names only; rebuild the engine with --profilingVerbosity=detailed")
    info = []
    for layer in layers:
        outputs = layer.get("Outputs", [])
        # The compute precision is the weights' type where there are weights (an INT8 convolution may
        # output FP32 after a fused dequantize), else the output format's.
        precision = (layer.get("Weights") or {}).get("Type") or (outputs[0].get("Format/Datatype") if outputs else None)
        info.append(TrtLayerInfo(
            layer.get("Name", ""), layer.get("LayerType", ""), layer.get("ParameterType"), _precision(precision),
            [i.get("Dimensions", []) for i in layer.get("Inputs", [])], [o.get("Dimensions", []) for o in outputs],
            int((layer.get("Weights") or {}).get("Count", 0)), layer.get("Groups"), layer.get("Kernel"),
            layer.get("TacticName") or (str(layer["TacticValue"]) if "TacticValue" in layer else None),
        ))
    return info


def _precision(format_datatype: str | None) -> str | None:
    if not format_datatype:
        return None
    text = format_datatype.lower()
    for word, precision in (("int8", "int8"), ("half", "fp16"), ("fp16", "fp16"), ("float", "fp32"), ("fp32", "fp32"), ("int32", "int32")):
        if word in text:
            return precision
    return None


def read_times(path: str | Path) -> dict[str, dict[str, float]]:
    """Read an ``--exportTimes`` file (optionally gzipped): statistics of end-to-end latency and GPU compute.

    Raises:
        TrtexecFormatError: Not a list of per-iteration timing records.
    """
    data = _load(path)
    if not isinstance(data, list) or not data or not isinstance(data[0], dict) or "computeMs" not in data[0]:
        raise TrtexecFormatError(f"{path} is not a trtexec --exportTimes file (records with computeMs, latencyMs)")
    return {key: latency_stats([float(record[key]) for record in data]) for key in ("latencyMs", "computeMs", "h2dMs", "d2hMs")}


def join_profile(layers: list[TrtLayerTime], info: list[TrtLayerInfo]) -> list[dict[str, Any]]:
    """Per-layer time with its type and precision, matched by layer name, slowest first."""
    by_name = {layer.name: layer for layer in info}
    rows = []
    for timing in layers:
        meta = by_name.get(timing.name)
        rows.append({"name": timing.name, "average_ms": timing.average_ms, "percentage": timing.percentage,
                     "layer_type": meta.layer_type if meta else None, "parameter_type": meta.parameter_type if meta else None,
                     "precision": meta.precision if meta else None, "groups": meta.groups if meta else None})
    return sorted(rows, key=lambda row: row["average_ms"], reverse=True)
