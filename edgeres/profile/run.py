"""``edgeres profile``: every artifact of a bundle measured side by side, saved into the bundle."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeres.bundle import Bundle, now, write_atomic
from edgeres.devices.host import describe_host
from edgeres.errors import ConfigError
from edgeres.profile.latency import LatencyReport, ProfileConfig, profile_session
from edgeres.runtime import open_onnx
from edgeres.runtime.session import Session

BACKENDS = ("onnxruntime", "openvino", "torch")
_ALIASES = {"ort": "onnxruntime", "onnxruntime": "onnxruntime", "openvino": "openvino", "ov": "openvino", "torch": "torch"}


@dataclass(frozen=True)
class ProfileRun:
    """A profile run: one row per artifact and batch size, where it ran, and the saved file."""

    rows: list[dict[str, Any]]
    host: dict[str, Any]
    saved: Path | None
    reports: list[tuple[str, LatencyReport]]


def parse_backend(value: str) -> str:
    """``ort``/``onnxruntime``, ``openvino``/``ov`` or ``torch``."""
    try:
        return _ALIASES[value.lower()]
    except KeyError:
        raise ConfigError(f"unknown backend {value!r}; choose ort, openvino or torch") from None


def profile_bundle(
    bundle_dir: str | Path,
    config: ProfileConfig,
    *,
    artifacts: list[str] | None = None,
    backend: str = "onnxruntime",
    device: str = "cpu",
    threads: int = 0,
    save: bool = True,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> ProfileRun:
    """Profile artifacts of a bundle in one run, so their numbers compare.

    Args:
        bundle_dir: The bundle.
        config: Warm-up, iterations, batch sizes, stability threshold.
        artifacts: File names, or ``None`` for every ONNX artifact (``torch``: the source model).
        backend: ``onnxruntime``, ``openvino`` or ``torch``.
        device: ``cpu`` (or ``cuda``/``tensorrt`` providers with onnxruntime-gpu).
        threads: Intra-op threads, recorded with the results; 0 = the backend's default.
        save: Write the run to ``<bundle>/profiles/``.
        on_progress: ``(phase, done, total)`` callback.

    Raises:
        BundleError: Not a bundle, unknown or modified artifact.
        ConfigError: Unknown backend, device, or settings the model cannot take.
    """
    backend = parse_backend(backend)
    bundle = Bundle.open(bundle_dir)
    if backend == "torch":
        names = ["pytorch"]
    else:
        names = artifacts or [name for name, record in bundle.artifacts.items() if record.get("format") == "onnx"]
    rows, reports = [], []
    for name in names:
        session = _torch_session(bundle, threads) if backend == "torch" else \
            open_onnx(bundle.verified_path(name), backend=backend, device=device, threads=threads)
        with session:
            progress = (lambda phase, done, total, _n=name: on_progress(f"{_n}: {phase}", done, total)) if on_progress else None
            for report in profile_session(session, config, on_progress=progress):
                reports.append((name, report))
                rows.append(_row(bundle, name, session, report))
    host = describe_host()
    saved = _save(bundle, rows, reports, host, config) if save else None
    return ProfileRun(rows, host, saved, reports)


def _row(bundle: Bundle, name: str, session: Session, report: LatencyReport) -> dict[str, Any]:
    record = bundle.artifacts.get(name, {})
    validation = bundle.manifest.get("validation", {}).get(name) or {}
    accuracy = validation.get("accuracy") if isinstance(validation, dict) else None
    return {
        "artifact": name,
        "precision": record.get("precision", "fp32"),
        "backend": session.backend,
        "provider": session.provider,
        "device": session.device,
        "batch": report.batch,
        "threads": session.threads,
        "latency_ms": {k: round(v, 4) for k, v in report.latency_ms.items()},
        "throughput_ips": round(report.throughput_ips, 2),
        "peak_rss_mb": round(report.peak_rss_mb, 1),
        "stable": report.stable,
        "cv": round(report.cv, 4),
        "verdict": report.verdict,
        "warmup_calls": report.warmup_calls,
        "timed_calls": report.timed_calls,
        "accuracy": None if not accuracy else {
            key: accuracy.get(key) for key in ("top1_drop", "agreement", "cosine_mean", "top1", "samples")
        },
    }


def _torch_session(bundle: Bundle, threads: int) -> Session:
    from edgeres.export.source import load_source
    from edgeres.models.registry import get_model_info
    from edgeres.profile.torch_session import TorchSession

    source = bundle.manifest["source"]
    shape = tuple(bundle.manifest["inputs"][0]["example_shape"])
    if source["kind"] == "registry":
        info = get_model_info(source["name"])
        weights = (source.get("weights") or {}).get("path")
        loaded = load_source(
            source["name"], weights=weights, num_classes=source.get("num_classes") if source.get("num_classes") != info.num_classes else None,
            width_mult=source.get("width_mult"), in_chans=shape[0] if shape[0] != info.input_spec.shape[0] else None,
            input_shape=shape,
        )
    else:
        loaded = load_source(source["name"])
    return TorchSession(loaded.model, shape, threads)


def _save(bundle: Bundle, rows: list[dict], reports: list[tuple[str, LatencyReport]], host: dict, config: ProfileConfig) -> Path:
    stamp = now().replace(":", "").replace("-", "").replace("+0000", "Z")
    backend = rows[0]["backend"] if rows else "none"
    path = bundle.root / "profiles" / f"{stamp}-{backend}.json"
    index = 1
    while path.exists():
        path = path.with_name(f"{stamp}-{backend}-{index}.json")
        index += 1
    document = {
        "schema": "edgeres.profile", "schema_version": 1, "created": now(), "host": host,
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config).items()},
        "results": rows,
        "raw_timings_ms": [{"artifact": name, "batch": r.batch, "timings_ms": [round(t, 5) for t in r.timings_ms]} for name, r in reports],
    }
    write_atomic(path, (json.dumps(document, indent=1) + "\n").encode())
    return path


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    """One CSV line per row, latency percentiles as columns."""
    fields = ["artifact", "precision", "backend", "provider", "device", "batch", "threads", "min", "mean", "p50", "p90",
              "p95", "p99", "max", "std", "throughput_ips", "peak_rss_mb", "stable", "cv"]
    lines = []
    for row in rows:
        flat = {**{k: row[k] for k in fields if k in row}, **row["latency_ms"]}
        lines.append({k: flat.get(k) for k in fields})
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(lines)
