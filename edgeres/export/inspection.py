"""``edgeres inspect``: a bundle's manifest and the per-layer cost of one of its graphs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeres.bundle import Bundle
from edgeres.errors import BundleError
from edgeres.export.layers import CostTable, layer_costs


@dataclass(frozen=True)
class InspectReport:
    """A bundle's manifest (``None`` for a bare ONNX file) and the cost table of one artifact."""

    manifest: dict[str, Any] | None
    artifact: str
    costs: CostTable

    def to_dict(self) -> dict[str, Any]:
        """``{"manifest", "artifact", "layers", "total", "input_shapes"}``."""
        return {"manifest": self.manifest, "artifact": self.artifact, **self.costs.to_dict()}


def inspect_path(path: str | Path, *, artifact: str = "model.onnx", batch: int = 1) -> InspectReport:
    """Inspect a bundle directory (its artifact's hash checked first) or a bare ``.onnx`` file.

    Raises:
        BundleError: Not a bundle or ONNX file, unknown artifact, or a modified file.
    """
    path = Path(path)
    if path.is_file() and path.suffix == ".onnx":
        return InspectReport(None, path.name, layer_costs(path, batch=batch))
    if not path.exists():
        raise BundleError(f"{path} does not exist; give a bundle directory or an .onnx file")
    bundle = Bundle.open(path)
    record = bundle.artifact(artifact)
    if record.get("format") != "onnx":
        raise BundleError(f"{artifact} is a {record.get('format')} artifact; inspect reads ONNX graphs")
    onnx_path = bundle.verified_path(artifact)
    shapes = {}
    for spec in bundle.manifest.get("inputs", []):
        if any(isinstance(d, str) for d in spec["shape"][1:]):
            shapes[spec["name"]] = (batch, *spec["example_shape"])
    return InspectReport(bundle.manifest, artifact, layer_costs(onnx_path, shapes, batch=batch))
