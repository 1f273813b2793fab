"""What machine is this? A Jetson (and which), an NVIDIA GPU, or a CPU with its flags. Read on demand."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeres.devices.host import cpu_info
from edgeres.errors import ConfigError

# /proc/device-tree/model strings (NUL-terminated) to catalog names.
_JETSON_MODELS = (
    (r"AGX Orin.*64GB|AGX Orin Developer Kit", "jetson-agx-orin-64gb"),
    (r"AGX Orin.*32GB", "jetson-agx-orin-32gb"),
    (r"Orin NX.*16GB", "jetson-orin-nx-16gb"),
    (r"Orin NX.*8GB", "jetson-orin-nx-8gb"),
    (r"Orin Nano.*8GB|Orin Nano Developer Kit", "jetson-orin-nano-8gb"),
    (r"Orin Nano.*4GB", "jetson-orin-nano-4gb"),
    (r"AGX Xavier", "jetson-agx-xavier"),
    (r"Xavier NX", "jetson-xavier-nx"),
    (r"Jetson Nano|jetson-nano|NVIDIA Jetson Nano", "jetson-nano"),
)
_L4T_TO_JETPACK = {("32", "7"): "4.6", ("35", "4"): "5.1.2", ("35", "5"): "5.1.3", ("35", "6"): "5.1.4",
                   ("36", "3"): "6.0", ("36", "4"): "6.2"}


@dataclass(frozen=True)
class DetectedDevice:
    """The machine edgeres runs on.

    Attributes:
        kind: ``jetson``, ``gpu`` or ``cpu``.
        name: The catalog name when known (``jetson-orin-nano-8gb``), else a description.
        catalog: Whether ``name`` is a catalog entry.
        details: What was read (model string, L4T release, GPU names, CPU flags).
    """

    kind: str
    name: str
    catalog: bool
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def parse_tegra_release(text: str) -> dict[str, str]:
    """Parse ``/etc/nv_tegra_release``: ``# R32 (release), REVISION: 7.6, GCID: ..., BOARD: t210ref, ...``."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    match = re.match(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", line)
    if not match:
        raise ConfigError(f"not an nv_tegra_release line: {line[:80]!r}")
    fields = dict(re.findall(r"(\w+):\s*([^,]+?)\s*(?:,|$)", line))
    release, revision = match.group(1), match.group(2)
    info = {"l4t": f"{release}.{revision}", "board": fields.get("BOARD", ""), "date": " ".join(fields.get("DATE", "").split())}
    jetpack = _L4T_TO_JETPACK.get((release, revision.split(".")[0]))
    if jetpack:
        info["jetpack"] = jetpack
    return info


def jetson_from_model(model: str) -> str | None:
    """The catalog name for a ``/proc/device-tree/model`` string (NULs stripped), if known."""
    model = model.replace("\x00", "").strip()
    for pattern, name in _JETSON_MODELS:
        if re.search(pattern, model, re.IGNORECASE):
            return name
    return None


def detect(root: str | Path = "/") -> DetectedDevice:
    """Detect the machine: Jetson first (``/etc/nv_tegra_release``, ``/proc/device-tree/model``), then an
    NVIDIA GPU (``nvidia-smi``), else the CPU.

    Args:
        root: File-system root to read from (a test points it at a fixture tree).
    """
    root = Path(root)
    release = root / "etc" / "nv_tegra_release"
    if release.is_file():
        info = parse_tegra_release(release.read_text(errors="replace"))
        model_file = root / "proc" / "device-tree" / "model"
        model = model_file.read_bytes().decode(errors="replace").replace("\x00", "").strip() if model_file.is_file() else ""
        name = jetson_from_model(model) or ("jetson-nano" if info.get("board", "").startswith("t210") else None)
        info["model"] = model
        return DetectedDevice("jetson", name or f"unknown Jetson ({model or info['board']})", name is not None, info)
    if root == Path("/") and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        except (subprocess.SubprocessError, OSError):
            out = ""
        if out:
            gpus = [line.split(", ") for line in out.splitlines()]
            return DetectedDevice("gpu", gpus[0][0], False, {"gpus": gpus, "cpu": cpu_info()})
    cpu = cpu_info()
    return DetectedDevice("cpu", cpu["model"], False, {"cpu": cpu})


def resolve_device(name: str) -> str:
    """Turn a ``--device`` value into a catalog name: ``jetson`` means the Jetson this runs on.

    Raises:
        ConfigError: ``jetson`` on a machine that is not one (remote boards come with ``--host``).
    """
    if name != "jetson":
        return name
    found = detect()
    if found.kind != "jetson":
        raise ConfigError(
            f"--device jetson means the Jetson this runs on, and this is not one ({found.kind}: {found.name}); "
            "name a board from 'edgeres devices' (e.g. --device jetson-orin-nano-8gb --estimate)"
        )
    if not found.catalog:
        raise ConfigError(f"this Jetson ({found.name}) is not in the catalog; name the closest board from 'edgeres devices'")
    return found.name
