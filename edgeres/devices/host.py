"""The machine edgeres runs on: CPU model, cores, instruction-set flags, OS, library versions.

Read on demand (never at import). Profiles record it, so a number always says where it was measured.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from pathlib import Path
from typing import Any

# Flags that decide which integer and vector kernels the runtimes use.
INTERESTING_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16",
                     "amx_int8", "asimd", "asimddp", "sve", "neon")


@lru_cache(maxsize=1)
def cpu_info(cpuinfo: str = "/proc/cpuinfo") -> dict[str, Any]:
    """CPU model, logical and physical cores, and the interesting ISA flags (x86 ``flags``, Arm ``Features``)."""
    model, flags, physical = platform.processor() or platform.machine(), set(), set()
    path = Path(cpuinfo)
    if path.is_file():
        text = path.read_text(errors="replace")
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and value.strip():
                model = value.strip()
            elif key in ("flags", "features"):
                flags.update(value.split())
            elif key == "core id":
                physical.add(value.strip())
    if platform.machine() in ("aarch64", "arm64"):
        flags.add("neon")  # Advanced SIMD is mandatory on AArch64 (reported as 'asimd')
    return {
        "model": model,
        "architecture": platform.machine(),
        "logical_cores": os.cpu_count() or 1,
        "physical_cores": len(physical) or None,
        "flags": sorted(flag for flag in flags if flag in INTERESTING_FLAGS),
    }


def library_versions(packages: tuple[str, ...] = ("edgeres", "numpy", "torch", "onnx", "onnxruntime", "onnxslim", "openvino")) -> dict[str, str]:
    """Python's and the installed packages' versions (from package metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version()}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def describe_host() -> dict[str, Any]:
    """Everything a measurement needs to be reproduced: CPU, OS, Python and runtime versions."""
    return {"cpu": cpu_info(), "os": f"{platform.system()} {platform.release()}", "versions": library_versions(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}
