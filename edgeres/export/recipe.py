"""Export recipes: one YAML file per deployment (model, input, precision, calibration, target).

A recipe names settings of every stage; each stage reads its own section of it. Unknown keys and
wrong types are errors that name the key, so a typo never passes silently.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from edgeres.errors import ConfigError
from edgeres.export.config import DEFAULT_OPSET, Exporter, parse_exporter, parse_input_shape
from edgeres.precision import Precision

TARGETS = ("cpu", "tensorrt")


@dataclass(frozen=True)
class Recipe:
    """A deployment recipe.

    Attributes:
        model: Registry name or ``package.module:attr``.
        weights: Checkpoint file, relative to the recipe's folder or absolute.
        num_classes: Registry override.
        width_mult: Registry override (MobileNets).
        input_shape: ``(C, H, W)``.
        batch: Static batch size.
        dynamic_batch: Symbolic batch dimension.
        dynamic_hw: Symbolic height and width.
        opset: ONNX opset.
        exporter: ``torchscript`` or ``dynamo``.
        precision: Precision of the deployed artifact.
        target: ``cpu`` (ONNX Runtime) or ``tensorrt``.
        calib: Calibration data for INT8 (a folder, .npy/.npz, IDX file, or ``random``).
        eval: Labelled evaluation data for accuracy.
        max_accuracy_drop: Accuracy budget in top-1 points for INT8.
        source: The recipe file.
    """

    model: str
    weights: Path | None = None
    num_classes: int | None = None
    width_mult: float | None = None
    input_shape: tuple[int, int, int] | None = None
    batch: int = 1
    dynamic_batch: bool = False
    dynamic_hw: bool = False
    opset: int = DEFAULT_OPSET
    exporter: Exporter = Exporter.TORCHSCRIPT
    precision: Precision = Precision.FP32
    target: str = "cpu"
    calib: str | None = None
    eval: str | None = None
    max_accuracy_drop: float | None = None
    source: Path | None = None


_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str,), "weights": (str,), "num_classes": (int,), "width_mult": (int, float),
    "input_shape": (list, str), "batch": (int,), "dynamic_batch": (bool,), "dynamic_hw": (bool,),
    "opset": (int,), "exporter": (str,), "precision": (str,), "target": (str,), "calib": (str,),
    "eval": (str,), "max_accuracy_drop": (int, float),
}


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file.

    Paths inside (weights, calib, eval) are relative to the recipe's folder.

    Raises:
        ConfigError: Unreadable YAML, unknown keys, wrong types or values; the message names the key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"recipe {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"recipe {path} must be a mapping of keys to values")
    unknown = sorted(set(data) - set(_TYPES))
    if unknown:
        raise ConfigError(f"recipe {path}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(_TYPES)}")
    if "model" not in data:
        raise ConfigError(f"recipe {path}: the key 'model' is required")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        expected = _TYPES[key]
        # bool is an int in Python; a recipe saying `batch: true` is still wrong.
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            names = " or ".join(t.__name__ for t in expected)
            raise ConfigError(f"recipe {path}: key {key!r} must be {names}, got {type(value).__name__} {value!r}")
        values[key] = value
    try:
        if "input_shape" in values:
            values["input_shape"] = parse_input_shape(values["input_shape"])
        if "exporter" in values:
            values["exporter"] = parse_exporter(values["exporter"])
        if "precision" in values:
            values["precision"] = Precision.parse(values["precision"])
    except ConfigError as exc:
        raise ConfigError(f"recipe {path}: {exc}") from None
    if values.get("target", "cpu") not in TARGETS:
        raise ConfigError(f"recipe {path}: key 'target' must be one of {', '.join(TARGETS)}, got {values['target']!r}")
    if values.get("batch", 1) < 1:
        raise ConfigError(f"recipe {path}: key 'batch' must be positive")
    for key in ("weights",):
        if key in values:
            values[key] = _relative_to(path, values[key])
    for key in ("calib", "eval"):
        if key in values and values[key] != "random":
            values[key] = str(_relative_to(path, values[key]))
    names = {f.name for f in fields(Recipe)}
    return Recipe(**{k: v for k, v in values.items() if k in names}, source=path)


def _relative_to(recipe: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (recipe.parent / candidate)
