"""Interleaved timing: variants measured round-robin in one run, so machine drift hits them all alike.

MEASURED.md: absolute times on these shared machines drift 6-27% between runs; only ratios measured
side by side in one run mean anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from edgeres.profile.latency import latency_stats


def interleaved(variants: dict[str, Callable[[], object]], rounds: int = 5, calls: int = 8, warmup: int = 3) -> dict[str, dict[str, float]]:
    """Time every variant ``rounds x calls`` times, round-robin; latency statistics (ms) per variant."""
    for run in variants.values():
        for _ in range(warmup):
            run()
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            # One untimed call per block: ONNX Runtime's worker threads spin for a while after a call,
            # and the previous variant's spinning threads would otherwise land on this block's first call.
            run()
            for _ in range(calls):
                begin = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - begin) * 1e3)
    results = {}
    for name, values in timings.items():
        stats = latency_stats(values)
        stats["cv"] = stats["std"] / stats["mean"]
        results[name] = stats
    return results


def ratio_table(results: dict[str, dict[str, float]], baseline: str, extra: dict[str, str] | None = None) -> str:
    """A markdown table of median latency, p90, CV and speed relative to ``baseline``."""
    extra = extra or {}
    lines = ["| variant | p50 ms | p90 ms | CV | speed vs " + baseline + " | note |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    base = results[baseline]["p50"]
    for name, stats in results.items():
        lines.append(f"| {name} | {stats['p50']:.2f} | {stats['p90']:.2f} | {stats['cv']:.0%} | {base / stats['p50']:.2f}x | {extra.get(name, '')} |")
    return "\n".join(lines)
