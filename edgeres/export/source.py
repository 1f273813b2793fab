"""Resolve what a user asks to export: a registry name or a ``package.module:attr``."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeres.bundle import sha256_file
from edgeres.errors import ConfigError
from edgeres.models.registry import InputSpec, create_model, get_model_info

# Random-init BatchNorm statistics (mean 0, var 1) make deep networks' outputs degenerate (MobileNet
# logits around 1e-9), so exports of random weights re-estimate them on a few random batches first.
_BN_BATCHES = 4
_BN_BATCH_SIZE = 8


@dataclass
class ModelSource:
    """A model ready to export, and where it came from.

    Attributes:
        model: The network, in eval mode.
        name: Registry name, or ``module:attr``.
        kind: ``"registry"`` or ``"module"``.
        input_spec: Default input and preprocessing; ``None`` when unknown (user modules).
        num_classes: Classifier outputs, when known.
        weights: The checkpoint file and its sha256, or ``None`` for random weights.
        details: Extra facts for the manifest (family, residual, init).
    """

    model: nn.Module
    name: str
    kind: str
    input_spec: InputSpec | None
    num_classes: int | None
    weights: dict[str, str] | None = None
    details: dict[str, Any] = field(default_factory=dict)


def load_source(
    spec: str,
    *,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    in_chans: int | None = None,
    width_mult: float | None = None,
    input_shape: tuple[int, int, int] | None = None,
) -> ModelSource:
    """Build the model named by ``spec``.

    Args:
        spec: A registry name (``resnet18``) or ``package.module:attr`` naming an ``nn.Module`` instance
            or a zero-argument callable that returns one.
        weights: A checkpoint for a registry model.
        num_classes: Registry override.
        in_chans: Registry override.
        width_mult: Registry override.
        input_shape: ``(C, H, W)``; used to re-estimate BatchNorm statistics of random weights.

    Raises:
        ModelNotFoundError: Unknown registry name (with close names).
        ConfigError: A ``module:attr`` that does not import or is not a module; overrides on one.
        CheckpointError: Weights that cannot be loaded.
    """
    if ":" in spec:
        if any(v is not None for v in (weights, num_classes, in_chans, width_mult)):
            raise ConfigError(
                "--weights, --num-classes, --in-chans and --width-mult apply to registry models; "
                f"build {spec} with its weights and shape instead"
            )
        return _load_module_attr(spec)
    info = get_model_info(spec)
    model = create_model(
        spec, num_classes=num_classes, in_chans=in_chans, width_mult=width_mult, weights=weights
    ).eval()
    input_spec = info.input_spec if in_chans is None else info.input_spec.with_channels(in_chans)
    details: dict[str, Any] = {"family": info.family, "residual": info.residual}
    if width_mult is not None:
        details["width_mult"] = width_mult
    record = None
    if weights is not None:
        record = {"path": str(Path(weights).resolve()), "sha256": sha256_file(weights)}
        details["init"] = "checkpoint"
    else:
        shape = input_shape or input_spec.shape
        recalibrate_batchnorm(model, shape)
        details["init"] = (
            f"random (seed 0), BatchNorm statistics re-estimated on {_BN_BATCHES} random batches; "
            "outputs are meaningless, pass --weights for a real model"
        )
    return ModelSource(model, spec, "registry", input_spec, num_classes or info.num_classes, record, details)


def recalibrate_batchnorm(model: nn.Module, input_shape: tuple[int, int, int], seed: int = 0) -> None:
    """Re-estimate BatchNorm running statistics on random inputs, in place (model left in eval mode)."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the batches
    model.train()
    with torch.no_grad():
        for _ in range(_BN_BATCHES):
            model(torch.randn((_BN_BATCH_SIZE, *input_shape), generator=generator))
    model.eval()


def _load_module_attr(spec: str) -> ModelSource:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{spec!r} is not of the form package.module:attr")
    # Like uvicorn and gunicorn: a module in the current directory can be named without installing it.
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001  (any import failure is the user's module failing)
        raise ConfigError(f"cannot import {module_name!r} for {spec!r}: {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not isinstance(target, nn.Module):
        if not callable(target):
            raise ConfigError(f"{spec} is a {type(target).__name__}, not an nn.Module or a function that returns one")
        try:
            target = target()
        except TypeError as exc:
            raise ConfigError(f"{spec} must be an nn.Module or a zero-argument factory; calling it failed: {exc}") from exc
        if not isinstance(target, nn.Module):
            raise ConfigError(f"{spec}() returned a {type(target).__name__}, not an nn.Module")
    return ModelSource(target.eval(), spec, "module", None, None, None, {"class": type(target).__qualname__})
