"""The device catalog: one YAML file per device in ``devices/`` (shipped in the wheel), validated on load.

Physical quantities are written with their unit (``204.8 GB/s``, ``1300 MHz``, ``85 TOPS``), so a
number can never be read in the wrong unit; a missing or wrong unit, an unknown key or a wrong type is an
error naming the file and the key. Peak throughputs are *dense* (NVIDIA's Orin "TOPS" are sparse INT8
and include the DLAs; the catalog derives the dense GPU figure and says so in ``sources``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from edgeres.errors import ConfigError
from edgeres.resources import data_files

_UNITS = {
    "frequency": {"Hz": 1.0, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "throughput": {"GFLOPS": 1e9, "TFLOPS": 1e12, "GOPS": 1e9, "TOPS": 1e12},
    "bandwidth": {"GB/s": 1e9, "TB/s": 1e12, "MB/s": 1e6},
    "size": {"MB": 1e6, "GB": 1e9, "TB": 1e12},
    "power": {"W": 1.0, "mW": 1e-3},
}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*([A-Za-z/]+)\s*$")
FAMILIES = ("jetson", "gpu", "cpu")
PRECISIONS = ("fp32", "fp16", "int8")


def parse_quantity(value: object, kind: str, where: str) -> float:
    """Parse ``"204.8 GB/s"`` into SI units (bytes/s), checking the unit belongs to ``kind``.

    Raises:
        ConfigError: Not a string with a number and a unit of that kind.
    """
    units = _UNITS[kind]
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {value!r} has no unit; write it as e.g. '{_example(kind)}'")
    match = _QUANTITY.match(value)
    if not match or match.group(2) not in units:
        raise ConfigError(f"{where}: {value!r} is not a {kind} with a unit ({', '.join(units)}); e.g. '{_example(kind)}'")
    return float(match.group(1)) * units[match.group(2)]


def _example(kind: str) -> str:
    return {"frequency": "1300 MHz", "throughput": "85 TOPS", "bandwidth": "204.8 GB/s", "size": "64 GB", "power": "50 W"}[kind]


@dataclass(frozen=True)
class PowerMode:
    """An nvpmodel power mode.

    Attributes:
        name: As nvpmodel prints it (``MAXN``, ``15W``, ``MAXN_SUPER``).
        nvpmodel_id: The ``nvpmodel -m`` id.
        gpu_clock_hz: The GPU clock cap in this mode.
        power_w: The mode's power budget.
        memory_bandwidth: Bytes/s when the mode also caps the memory clock, else ``None``.
    """

    name: str
    nvpmodel_id: int
    gpu_clock_hz: float
    power_w: float
    memory_bandwidth: float | None = None


@dataclass(frozen=True)
class Device:
    """One catalog entry (see ``devices/*.yaml``).

    Attributes:
        name: Catalog name (``jetson-agx-orin-64gb``).
        family: ``jetson``, ``gpu`` or ``cpu``.
        description: One line.
        architecture: GPU architecture (``ampere``) or CPU ISA.
        compute_capability: CUDA compute capability, e.g. ``"8.7"``.
        sm_count: Streaming multiprocessors.
        cuda_cores: CUDA cores.
        tensor_cores: Tensor cores.
        max_gpu_clock_hz: The clock the peaks are given at.
        peaks: Dense peak operations/s per precision at that clock (``None``: not supported).
        cuda_core_peaks: Dense peaks of the CUDA cores alone (depthwise convolutions do not use tensor cores).
        dla_count: Deep-learning accelerators.
        memory_bytes: Memory size.
        memory_bandwidth: Bytes/s.
        power_modes: nvpmodel modes (Jetson).
        jetpack: JetPack versions the board runs.
        tensorrt: TensorRT versions those ship.
        efficiency: Estimator factors (fraction of peak reached per layer kind, bandwidth fraction, overhead).
        sources: Where each number comes from.
        file: The YAML file.
    """

    name: str
    family: str
    description: str
    architecture: str
    compute_capability: str | None
    sm_count: int | None
    cuda_cores: int | None
    tensor_cores: int | None
    max_gpu_clock_hz: float | None
    peaks: dict[str, float | None]
    cuda_core_peaks: dict[str, float | None]
    dla_count: int
    memory_bytes: float
    memory_bandwidth: float
    power_modes: tuple[PowerMode, ...]
    jetpack: tuple[str, ...]
    tensorrt: tuple[str, ...]
    efficiency: dict[str, float]
    sources: dict[str, str]
    file: Path = field(repr=False, default=Path())

    def power_mode(self, name: str | None) -> PowerMode | None:
        """The named power mode (case-insensitive), or the fastest when ``name`` is ``None``.

        Raises:
            ConfigError: No such mode; the message lists the device's modes.
        """
        if not self.power_modes:
            if name:
                raise ConfigError(f"{self.name} has no power modes (only Jetson boards do)")
            return None
        if name is None:
            return max(self.power_modes, key=lambda mode: mode.gpu_clock_hz)
        for mode in self.power_modes:
            if mode.name.lower() == name.lower() or str(mode.nvpmodel_id) == name:
                return mode
        raise ConfigError(f"{self.name} has no power mode {name!r}; it has {', '.join(m.name for m in self.power_modes)}")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "name": self.name, "family": self.family, "description": self.description, "architecture": self.architecture,
            "compute_capability": self.compute_capability, "sm_count": self.sm_count, "cuda_cores": self.cuda_cores,
            "tensor_cores": self.tensor_cores, "max_gpu_clock_mhz": self.max_gpu_clock_hz and self.max_gpu_clock_hz / 1e6,
            "peak_dense_tops": {k: v and round(v / 1e12, 3) for k, v in self.peaks.items()}, "dla_count": self.dla_count,
            "memory_gb": round(self.memory_bytes / 1e9, 1), "memory_bandwidth_gbs": round(self.memory_bandwidth / 1e9, 1),
            "power_modes": [{"name": m.name, "nvpmodel_id": m.nvpmodel_id, "gpu_clock_mhz": m.gpu_clock_hz / 1e6, "power_w": m.power_w}
                            for m in self.power_modes],
            "jetpack": list(self.jetpack), "tensorrt": list(self.tensorrt), "sources": self.sources,
        }


_TOP = {"name", "family", "description", "gpu", "cpu", "dla_count", "memory", "power_modes", "software", "efficiency", "sources"}
_GPU = {"architecture", "compute_capability", "sm_count", "cuda_cores", "tensor_cores", "max_clock", "peak", "cuda_core_peak"}
_CPU = {"isa", "flags", "fp32_flops_per_cycle_per_core", "cores", "clock", "peak"}
_MEMORY = {"size", "bandwidth"}
_MODE = {"name", "nvpmodel_id", "gpu_clock", "power", "memory_bandwidth"}
_SOFTWARE = {"jetpack", "tensorrt"}
# What the estimator assumes when a device file says nothing: fractions of peak reached per layer kind
# under TensorRT (dense convolutions on tensor cores reach about half of peak at batch 1; depthwise
# convolutions run on CUDA cores and are memory-bound), of memory bandwidth, and a per-layer cost.
DEFAULT_EFFICIENCY = {"conv": 0.5, "pointwise_conv": 0.4, "depthwise_conv": 0.25, "matmul": 0.3, "bandwidth": 0.7,
                      "layer_overhead_us": 8.0}


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _typed(data: dict, key: str, kind: type | tuple[type, ...], where: str, required: bool = True) -> Any:
    if key not in data or data[key] is None:
        if required:
            raise ConfigError(f"{where}: the key '{key}' is required")
        return None
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}: '{key}' must be {names}, got {type(value).__name__} {value!r}")
    return value


def parse_device(data: object, file: Path) -> Device:
    """Validate one device file's contents.

    Raises:
        ConfigError: Unknown keys, missing keys, wrong types, missing or wrong units; names the file and key.
    """
    where = str(file.name)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: a device file must be a mapping of keys to values")
    _check_keys(data, _TOP, where)
    name = _typed(data, "name", str, where)
    family = _typed(data, "family", str, where)
    if family not in FAMILIES:
        raise ConfigError(f"{where}: 'family' must be one of {', '.join(FAMILIES)}, got {family!r}")
    memory = _typed(data, "memory", dict, where)
    _check_keys(memory, _MEMORY, f"{where}: memory")
    memory_bytes = parse_quantity(memory.get("size"), "size", f"{where}: memory.size")
    bandwidth = parse_quantity(memory.get("bandwidth"), "bandwidth", f"{where}: memory.bandwidth")
    peaks: dict[str, float | None] = {}
    cuda_peaks: dict[str, float | None] = {}
    arch = cc = None
    sm = cores = tensor = None
    clock = None
    if family == "cpu":
        cpu = _typed(data, "cpu", dict, where)
        _check_keys(cpu, _CPU, f"{where}: cpu")
        arch = _typed(cpu, "isa", str, f"{where}: cpu")
        if "peak" in cpu:
            peaks = _peaks(cpu["peak"], f"{where}: cpu.peak")
    else:
        gpu = _typed(data, "gpu", dict, where)
        _check_keys(gpu, _GPU, f"{where}: gpu")
        arch = _typed(gpu, "architecture", str, f"{where}: gpu")
        cc = str(_typed(gpu, "compute_capability", (str, float), f"{where}: gpu"))
        sm = _typed(gpu, "sm_count", int, f"{where}: gpu")
        cores = _typed(gpu, "cuda_cores", int, f"{where}: gpu")
        tensor = _typed(gpu, "tensor_cores", int, f"{where}: gpu")
        clock = parse_quantity(gpu.get("max_clock"), "frequency", f"{where}: gpu.max_clock")
        peaks = _peaks(_typed(gpu, "peak", dict, f"{where}: gpu"), f"{where}: gpu.peak")
        cuda_peaks = _peaks(_typed(gpu, "cuda_core_peak", dict, f"{where}: gpu"), f"{where}: gpu.cuda_core_peak")
    modes = []
    for index, mode in enumerate(_typed(data, "power_modes", list, where, required=False) or []):
        spot = f"{where}: power_modes[{index}]"
        if not isinstance(mode, dict):
            raise ConfigError(f"{spot}: must be a mapping")
        _check_keys(mode, _MODE, spot)
        modes.append(PowerMode(
            _typed(mode, "name", str, spot), _typed(mode, "nvpmodel_id", int, spot),
            parse_quantity(mode.get("gpu_clock"), "frequency", f"{spot}.gpu_clock"),
            parse_quantity(mode.get("power"), "power", f"{spot}.power"),
            parse_quantity(mode["memory_bandwidth"], "bandwidth", f"{spot}.memory_bandwidth") if mode.get("memory_bandwidth") else None,
        ))
    ids = [mode.nvpmodel_id for mode in modes]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{where}: power_modes: two modes share an nvpmodel_id ({sorted(ids)})")
    software = _typed(data, "software", dict, where, required=False) or {}
    _check_keys(software, _SOFTWARE, f"{where}: software")
    efficiency = {**DEFAULT_EFFICIENCY, **(_typed(data, "efficiency", dict, where, required=False) or {})}
    _check_keys(efficiency, set(DEFAULT_EFFICIENCY), f"{where}: efficiency")
    sources = _typed(data, "sources", dict, where)
    if not sources or not all(isinstance(v, str) and v.strip() for v in sources.values()):
        raise ConfigError(f"{where}: 'sources' must map each figure to where it comes from")
    return Device(
        name, family, _typed(data, "description", str, where), arch, cc, sm, cores, tensor, clock, peaks, cuda_peaks,
        _typed(data, "dla_count", int, where, required=False) or 0, memory_bytes, bandwidth, tuple(modes),
        tuple(str(v) for v in software.get("jetpack", [])), tuple(str(v) for v in software.get("tensorrt", [])),
        {k: float(v) for k, v in efficiency.items()}, {str(k): v for k, v in sources.items()}, file,
    )


def _peaks(data: dict, where: str) -> dict[str, float | None]:
    _check_keys(data, set(PRECISIONS), where)
    return {p: None if data.get(p) is None else parse_quantity(data[p], "throughput", f"{where}.{p}") for p in PRECISIONS}


def load_device_file(path: str | Path) -> Device:
    """Read and validate one device YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name}: cannot read the device file: {exc}") from exc
    return parse_device(data, path)


def load_catalog() -> dict[str, Device]:
    """Every shipped device, by name.

    Raises:
        ConfigError: A broken file (the message names it and the key), or two files with one name.
    """
    devices: dict[str, Device] = {}
    for path in data_files("devices"):
        device = load_device_file(path)
        if device.name in devices:
            raise ConfigError(f"{path.name}: device name {device.name!r} is also used by {devices[device.name].file.name}")
        devices[device.name] = device
    return devices


def get_device(name: str) -> Device:
    """A catalog device by name.

    Raises:
        ConfigError: Unknown name; lists close names.
    """
    catalog = load_catalog()
    if name in catalog:
        return catalog[name]
    close = difflib.get_close_matches(name, list(catalog), n=3, cutoff=0.4)
    raise ConfigError(f"unknown device {name!r}; {'did you mean ' + ', '.join(close) + '? ' if close else ''}run 'edgeres devices'")
