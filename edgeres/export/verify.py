"""Verification of an exported graph: ONNX checker, shape inference, numerical parity.

Parity runs the same inputs through the reference (PyTorch, or any callable) and through ONNX Runtime
on the CPU with graph optimizations on, and compares every output with a scale-aware tolerance and
cosine similarity. No torch import here: the reference is a callable on numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import onnx

from edgeres.errors import VerificationError
from edgeres.export.config import ParityTolerance


@dataclass(frozen=True)
class ParityResult:
    """The comparison of one output at one batch size.

    Attributes:
        output: Output name.
        batch: Batch size of the inputs.
        max_abs: Largest absolute difference.
        max_rel: Largest absolute difference divided by the reference's largest magnitude.
        cosine: Cosine similarity of the flattened outputs.
        reference_scale: Largest magnitude in the reference output.
        passed: Whether the tolerance holds.
    """

    output: str
    batch: int
    max_abs: float
    max_rel: float
    cosine: float
    reference_scale: float
    passed: bool

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def check_graph(path: str | Path) -> None:
    """Run the full ONNX checker and strict shape inference on a model file.

    Raises:
        VerificationError: The model is invalid; the message carries the checker's reason.
    """
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise VerificationError(f"{path} fails the ONNX checker: {str(exc).strip().splitlines()[0]}") from exc
    try:
        onnx.shape_inference.infer_shapes_path(str(path), str(path) + ".inferred", strict_mode=True)
    except onnx.shape_inference.InferenceError as exc:
        raise VerificationError(f"{path} fails ONNX shape inference: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        Path(str(path) + ".inferred").unlink(missing_ok=True)


def cpu_session(path: str | Path, *, threads: int = 0):  # noqa: ANN201  (onnxruntime imported lazily)
    """An ONNX Runtime CPU session with all graph optimizations, CPU provider pinned.

    Raises:
        VerificationError: ONNX Runtime cannot load the model (e.g. an opset it does not implement).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    try:
        # Pin the provider: ONNX Runtime lists providers such as Azure as available and would try them.
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own untyped errors)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise VerificationError(
            f"ONNX Runtime {ort.__version__} cannot load {path}: {message[:300]}. If this is an opset "
            "the installed runtime does not implement, export with a lower --opset or upgrade onnxruntime"
        ) from exc


def compare_outputs(
    names: Sequence[str],
    reference: Sequence[np.ndarray],
    actual: Sequence[np.ndarray],
    batch: int,
    tolerance: ParityTolerance,
) -> list[ParityResult]:
    """Compare outputs pairwise with the scale-aware tolerance."""
    results = []
    for name, ref, out in zip(names, reference, actual):
        ref64, out64 = np.asarray(ref, np.float64), np.asarray(out, np.float64)
        if ref64.shape != out64.shape:
            raise VerificationError(f"output {name}: ONNX shape {out64.shape} differs from the reference's {ref64.shape}")
        diff = float(np.max(np.abs(ref64 - out64))) if ref64.size else 0.0
        scale = float(np.max(np.abs(ref64))) if ref64.size else 0.0
        norms = float(np.linalg.norm(ref64) * np.linalg.norm(out64))
        cosine = float(np.sum(ref64 * out64) / norms) if norms > 0 else float(diff == 0.0)
        finite = bool(np.isfinite(out64).all())
        passed = finite and diff <= tolerance.atol + tolerance.rtol * scale and cosine >= tolerance.min_cosine
        results.append(ParityResult(name, batch, diff, diff / scale if scale else diff, cosine, scale, passed))
    return results


def check_parity(
    path: str | Path,
    reference: Callable[[np.ndarray], Sequence[np.ndarray]],
    inputs: Sequence[np.ndarray],
    tolerance: ParityTolerance,
) -> list[ParityResult]:
    """Run each input batch through ONNX Runtime and ``reference``; compare every output.

    Args:
        path: The ONNX model.
        reference: Maps an input array to the list of reference outputs.
        inputs: Input batches (e.g. batch 1 and 3 for a dynamic batch).
        tolerance: The criterion.

    Returns:
        One result per output and batch.

    Raises:
        VerificationError: An output is out of tolerance; the message names it and its error.
    """
    session = cpu_session(path)
    input_name = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    results: list[ParityResult] = []
    for batch in inputs:
        actual = session.run(None, {input_name: batch})
        results += compare_outputs(names, reference(batch), actual, batch.shape[0], tolerance)
    failed = [r for r in results if not r.passed]
    if failed:
        worst = max(failed, key=lambda r: r.max_rel)
        raise VerificationError(
            f"parity check failed for output {worst.output!r} at batch {worst.batch}: max abs error "
            f"{worst.max_abs:.3g} ({worst.max_rel:.3g} of the output scale {worst.reference_scale:.3g}), cosine "
            f"{worst.cosine:.6f}; allowed {tolerance.atol:g} + {tolerance.rtol:g} x scale and cosine >= "
            f"{tolerance.min_cosine}. Nothing was written. Try --exporter dynamo or another --opset"
        )
    return results
