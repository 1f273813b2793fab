"""What an app embeds: load a bundle's artifact and run numpy in, numpy out. Never imports torch.

>>> from edgeres import runtime
>>> with runtime.load("out/mbv2", artifact="model.int8.onnx") as session:
...     logits = session.run(image_batch)["logits"]
"""

from __future__ import annotations

from pathlib import Path

from edgeres.bundle import Bundle
from edgeres.errors import BundleError, ConfigError
from edgeres.runtime.session import InputError, Session, TensorSpec

BACKENDS = ("onnxruntime", "openvino")
_ALIASES = {"ort": "onnxruntime", "onnxruntime": "onnxruntime", "openvino": "openvino", "ov": "openvino"}

__all__ = ["BACKENDS", "InputError", "Session", "TensorSpec", "load", "open_onnx", "preferred_artifact"]


def load(
    bundle_dir: str | Path,
    artifact: str | None = None,
    backend: str | None = None,
    device: str | None = None,
    threads: int = 0,
) -> Session:
    """Load an artifact of a bundle after checking its sha256 against the manifest.

    Args:
        bundle_dir: The bundle directory.
        artifact: File name (``model.int8.onnx``); default: the best artifact for the CPU.
        backend: ``onnxruntime`` (``ort``, default) or ``openvino``.
        device: ``cpu`` (default), ``cuda`` or ``tensorrt`` (ONNX Runtime providers).
        threads: Intra-op threads; 0 lets the backend choose.

    Raises:
        BundleError: Not a bundle, unknown artifact, or a file modified since it was recorded.
        ConfigError: Unknown backend or device, or one this machine lacks.
    """
    bundle = Bundle.open(bundle_dir)
    name = artifact or preferred_artifact(bundle)
    record = bundle.artifact(name)
    if record.get("format") != "onnx":
        raise BundleError(f"{name} is a {record.get('format')} artifact; this backend runs ONNX files")
    return open_onnx(bundle.verified_path(name), backend=backend, device=device, threads=threads)


def open_onnx(path: str | Path, backend: str | None = None, device: str | None = None, threads: int = 0) -> Session:
    """A session on an ONNX file (no manifest, no hash check)."""
    name = _ALIASES.get((backend or "onnxruntime").lower())
    if name is None:
        raise ConfigError(f"unknown backend {backend!r}; choose {', '.join(BACKENDS)}")
    if name == "openvino":
        from edgeres.runtime.openvino import OpenVinoSession

        return OpenVinoSession(path, device or "cpu", threads)
    from edgeres.runtime.ort import OrtSession

    return OrtSession(path, device or "cpu", threads)


def preferred_artifact(bundle: Bundle) -> str:
    """The artifact an app should run on a CPU: INT8 for the CPU if made, else FP32."""
    for name in ("model.int8.onnx", "model.onnx"):
        if name in bundle.artifacts:
            return name
    raise BundleError(f"bundle {bundle.root} has no ONNX artifact")
