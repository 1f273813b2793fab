"""Plots of a profile run (``pip install 'edgeres[plot]'``): latency distributions, accuracy vs latency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeres.optional import require
from edgeres.profile.latency import LatencyReport


def plot_profile(reports: list[tuple[str, LatencyReport]], rows: list[dict[str, Any]], path: str | Path) -> Path:
    """Write a PNG with the latency distribution of every artifact and batch, and accuracy against latency."""
    matplotlib = require("matplotlib", extra="plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    labels = [f"{name}\nbatch {report.batch}" for name, report in reports]
    left.boxplot([report.timings_ms for _, report in reports], showfliers=True)
    left.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    left.set_ylabel("latency per call (ms)")
    left.set_title("latency distribution")
    for index, (_, report) in enumerate(reports, start=1):
        if not report.stable:
            left.annotate("noisy", (index, report.latency_ms["p99"]), color="red", ha="center", fontsize=8)
    points = [(row["latency_ms"]["p50"], (row.get("accuracy") or {}).get("agreement"), row["artifact"]) for row in rows if row["batch"] == rows[0]["batch"]]
    for latency, agreement, name in points:
        y = 100.0 if agreement is None and name == "model.onnx" else agreement
        if y is None:
            continue
        right.scatter(latency, y)
        right.annotate(name, (latency, y), fontsize=8, xytext=(4, 4), textcoords="offset points")
    right.set_xlabel(f"median latency at batch {rows[0]['batch'] if rows else 1} (ms)")
    right.set_ylabel("top-1 agreement with FP32 (%)")
    right.set_title("accuracy vs latency")
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
