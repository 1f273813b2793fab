"""PyTorch to ONNX: the exporter, graph clean-up, metadata, verification, the per-layer cost table.

``edgeres.export.layers`` and ``edgeres.export.verify`` need no torch; the names below that do are
imported on first use, so reading a cost table does not load PyTorch.
"""

from __future__ import annotations

from typing import Any

from edgeres.export.config import DEFAULT_OPSET, ExportConfig, Exporter, ParityTolerance, parse_input_shape

_LAZY = {
    "export_onnx": "edgeres.export.onnx_export",
    "ExportReport": "edgeres.export.onnx_export",
    "load_source": "edgeres.export.source",
    "ModelSource": "edgeres.export.source",
    "layer_costs": "edgeres.export.layers",
    "CostTable": "edgeres.export.layers",
    "LayerCost": "edgeres.export.layers",
    "load_recipe": "edgeres.export.recipe",
    "Recipe": "edgeres.export.recipe",
}

__all__ = ["DEFAULT_OPSET", "ExportConfig", "Exporter", "ParityTolerance", "parse_input_shape", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'edgeres.export' has no attribute {name!r}")
