"""Accuracy of an optimized artifact against the FP32 reference, on real data.

With labels: top-1 (and top-5 where there are at least five classes) of both models and the drop in
points. Always: top-1 agreement with FP32 and the cosine similarity of the outputs. No torch here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeres.export.verify import cpu_session
from edgeres.optimize.calibration import Dataset


@dataclass(frozen=True)
class AccuracyReport:
    """An optimized model's outputs against FP32's on the same samples.

    Attributes:
        samples: Number of samples.
        source: Where they came from.
        labelled: Whether top-k accuracy was measured against labels.
        fp32_top1: FP32 top-1 in percent (labelled only).
        top1: The artifact's top-1 in percent (labelled only).
        top1_drop: ``fp32_top1 - top1`` in points (labelled only).
        fp32_top5: FP32 top-5 (labelled, at least five classes).
        top5: The artifact's top-5.
        top5_drop: Drop in top-5 points.
        agreement: Percent of samples whose top-1 class equals FP32's.
        top5_agreement: Percent of samples whose FP32 top-1 class is in the artifact's top 5.
        cosine_mean: Mean cosine similarity of the output vectors.
        cosine_min: Smallest cosine similarity.
    """

    samples: int
    source: str
    labelled: bool
    fp32_top1: float | None
    top1: float | None
    top1_drop: float | None
    fp32_top5: float | None
    top5: float | None
    top5_drop: float | None
    agreement: float
    top5_agreement: float
    cosine_mean: float
    cosine_min: float

    @property
    def drop(self) -> float:
        """The figure an accuracy budget is checked against: top-1 drop, or disagreement without labels."""
        return self.top1_drop if self.top1_drop is not None else 100.0 - self.agreement

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def run_outputs(path: str | Path, data: Dataset, batch_size: int, session=None) -> np.ndarray:  # noqa: ANN001
    """Run every sample through an ONNX model on the CPU; the first output, stacked.

    Args:
        path: The model.
        data: The samples.
        batch_size: Samples per call (the model's static batch, or a chunk for a dynamic one).
        session: An existing session to reuse.
    """
    session = session or cpu_session(path)
    name = session.get_inputs()[0].name
    static = session.get_inputs()[0].shape[0]
    outputs = []
    for batch in data.batches(batch_size):
        if isinstance(static, int) and len(batch) < static:  # pad the last batch of a static-batch model
            padded = np.concatenate([batch, np.zeros((static - len(batch), *batch.shape[1:]), batch.dtype)])
            outputs.append(session.run(None, {name: padded})[0][: len(batch)])
        else:
            outputs.append(session.run(None, {name: batch})[0])
    return np.concatenate(outputs).astype(np.float32)


def compare_accuracy(reference: np.ndarray, actual: np.ndarray, data: Dataset) -> AccuracyReport:
    """Compare an artifact's outputs with FP32's on ``data``."""
    ref64, out64 = reference.astype(np.float64), actual.astype(np.float64)
    norms = np.linalg.norm(ref64, axis=1) * np.linalg.norm(out64, axis=1)
    cosine = np.where(norms > 0, np.sum(ref64 * out64, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    ref_top1 = reference.argmax(1)
    agreement = 100.0 * float(np.mean(actual.argmax(1) == ref_top1))
    classes = reference.shape[1]
    top5_agreement = 100.0 * float(np.mean([r in set(_topk(a, 5)) for r, a in zip(ref_top1, actual)])) if classes >= 5 else agreement
    fp32_top1 = top1 = fp32_top5 = top5 = None
    if data.labels is not None:
        labels = data.labels
        fp32_top1 = 100.0 * float(np.mean(ref_top1 == labels))
        top1 = 100.0 * float(np.mean(actual.argmax(1) == labels))
        if classes >= 5:
            fp32_top5 = 100.0 * float(np.mean([y in set(_topk(r, 5)) for y, r in zip(labels, reference)]))
            top5 = 100.0 * float(np.mean([y in set(_topk(a, 5)) for y, a in zip(labels, actual)]))
    return AccuracyReport(
        len(data), data.source, data.labels is not None, fp32_top1, top1,
        None if top1 is None else round(fp32_top1 - top1, 4), fp32_top5, top5,
        None if top5 is None else round(fp32_top5 - top5, 4), agreement, top5_agreement,
        float(cosine.mean()), float(cosine.min()),
    )


def _topk(row: np.ndarray, k: int) -> np.ndarray:
    return np.argpartition(-row, k - 1)[:k]
