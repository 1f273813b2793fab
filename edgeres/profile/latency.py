"""The latency harness: warm-up until stable, timed runs, percentiles, throughput, memory, a verdict.

A number a careful engineer would sign: warm-up continues until the median latency stops moving (or
a fixed count), every timed call is kept (raw timings go into the profile file), percentiles come
from numpy on those timings, and a run whose spread is too wide is flagged as noisy instead of
summarized with false confidence (on a shared 2-core machine, other processes can multiply p90 by
ten).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgeres.errors import ConfigError
from edgeres.runtime.session import Session

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class ProfileConfig:
    """Settings of a latency measurement.

    Attributes:
        batch_sizes: Batch sizes to measure.
        warmup: Warm-up calls; ``None`` warms up until the median of the last window of calls is within
            ``warmup_tolerance`` of the window before (between ``min_warmup`` and ``max_warmup`` calls).
        iters: Timed calls per batch size.
        min_time_s: Keep timing past ``iters`` until this much time has passed (short models need more calls).
        max_cv: Coefficient of variation (std / mean) above which a run is flagged noisy.
        min_warmup: Fewest warm-up calls in the adaptive mode.
        max_warmup: Most warm-up calls in the adaptive mode.
        warmup_tolerance: Relative change of the windowed median that counts as stable.
        seed: Seed of the random inputs.
    """

    batch_sizes: tuple[int, ...] = (1,)
    warmup: int | None = None
    iters: int = 100
    min_time_s: float = 0.0
    max_cv: float = 0.10
    min_warmup: int = 10
    max_warmup: int = 300
    warmup_tolerance: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise ConfigError(f"batch sizes must be positive integers, got {self.batch_sizes}")
        if self.iters < 2:
            raise ConfigError("iters must be at least 2 to compute a spread")
        if self.warmup is not None and self.warmup < 0:
            raise ConfigError("warmup must be >= 0")


@dataclass(frozen=True)
class LatencyReport:
    """One session at one batch size.

    Attributes:
        batch: Batch size.
        latency_ms: ``min``, ``mean``, ``p50``, ``p90``, ``p95``, ``p99``, ``max``, ``std`` of a call.
        throughput_ips: Samples per second at the median latency.
        cv: Coefficient of variation of the timed calls.
        stable: Whether ``cv <= max_cv``.
        verdict: One sentence saying whether to trust the numbers, and why.
        warmup_calls: Warm-up calls made.
        timed_calls: Timed calls made.
        peak_rss_mb: Peak resident memory of this process so far.
        timings_ms: Every timed call.
        session: The session's backend, provider, device, threads.
    """

    batch: int
    latency_ms: dict[str, float]
    throughput_ips: float
    cv: float
    stable: bool
    verdict: str
    warmup_calls: int
    timed_calls: int
    peak_rss_mb: float
    timings_ms: list[float] = field(repr=False)
    session: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, *, raw: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (without the raw timings when ``raw`` is false)."""
        data = asdict(self)
        if not raw:
            data.pop("timings_ms")
        return data


def latency_stats(timings_ms: list[float] | np.ndarray) -> dict[str, float]:
    """min, mean, p50, p90, p95, p99, max and std (population) of a list of timings."""
    values = np.asarray(timings_ms, dtype=np.float64)
    stats = {"min": float(values.min()), "mean": float(values.mean())}
    stats.update({f"p{p}": float(np.percentile(values, p)) for p in PERCENTILES})
    stats.update({"max": float(values.max()), "std": float(values.std())})
    return stats


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def make_inputs(session: Session, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every model input at this batch size (symbolic dimensions other than batch: error)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in session.inputs:
        shape = []
        for axis, dim in enumerate(spec.shape):
            if isinstance(dim, int) and dim > 0:
                if axis == 0 and dim != batch:
                    raise ConfigError(f"the model's batch is fixed at {dim}; profile it with --batch {dim} or export with --dynamic-batch")
                shape.append(dim)
            elif axis == 0:
                shape.append(batch)
            else:
                raise ConfigError(f"input {spec.name} has a symbolic dimension {dim!r} besides the batch; export with a fixed input size to profile")
        feeds[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
    return feeds


def profile_session(
    session: Session, config: ProfileConfig, *, on_progress: Callable[[str, int, int], None] | None = None
) -> list[LatencyReport]:
    """Measure a session's latency at each batch size.

    Args:
        session: Any session of the contract.
        config: The measurement settings.
        on_progress: Called as ``(phase, done, total)`` while it runs.

    Returns:
        One report per batch size.
    """
    progress = on_progress or (lambda phase, done, total: None)
    reports = []
    for batch in config.batch_sizes:
        feeds = session.validate(make_inputs(session, batch, config.seed))
        warmup_calls = _warm_up(session, feeds, config, progress)
        timings = []
        started = time.perf_counter()
        while len(timings) < config.iters or time.perf_counter() - started < config.min_time_s:
            begin = time.perf_counter()
            session._run(feeds)  # inputs validated once above; validation is not part of the latency
            timings.append((time.perf_counter() - begin) * 1e3)
            progress(f"batch {batch}: timing", len(timings), config.iters)
        stats = latency_stats(timings)
        cv = stats["std"] / stats["mean"] if stats["mean"] > 0 else 0.0
        stable = cv <= config.max_cv
        reports.append(LatencyReport(
            batch, stats, batch * 1e3 / stats["p50"], cv, stable, _verdict(stats, cv, config.max_cv), warmup_calls,
            len(timings), peak_rss_mb(), timings, session.describe(),
        ))
    return reports


def _warm_up(session: Session, feeds: dict[str, np.ndarray], config: ProfileConfig, progress: Callable) -> int:
    if config.warmup is not None:
        for done in range(config.warmup):
            session._run(feeds)
            progress("warm-up", done + 1, config.warmup)
        return config.warmup
    window = max(5, config.min_warmup // 2)
    times: list[float] = []
    while len(times) < config.max_warmup:
        begin = time.perf_counter()
        session._run(feeds)
        times.append(time.perf_counter() - begin)
        progress("warm-up", len(times), config.max_warmup)
        if len(times) >= max(config.min_warmup, 2 * window):
            last, previous = np.median(times[-window:]), np.median(times[-2 * window:-window])
            if abs(last - previous) <= config.warmup_tolerance * previous:
                break
    return len(times)


def _verdict(stats: dict[str, float], cv: float, max_cv: float) -> str:
    if cv <= max_cv:
        return f"stable: CV {cv:.1%} <= {max_cv:.0%}"
    tail = stats["p99"] / stats["p50"] if stats["p50"] else float("inf")
    return (f"NOISY: CV {cv:.1%} > {max_cv:.0%}, p99 is {tail:.1f}x p50; other load on the machine or clock "
            "changes; the mean and tail are not trustworthy, re-run on a quiet machine")
