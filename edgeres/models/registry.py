"""The model registry: names to builders, with each model's default input.

Registering a name twice raises (timm silently overwrites; torchvision raises, and so do we). Every
registered network also has a plain twin, ``plain_<name>``, the same builder with ``residual=False``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from torch import nn

from edgeres.errors import ConfigError, ModelNotFoundError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

PLAIN_PREFIX = "plain_"


@dataclass(frozen=True)
class InputSpec:
    """The input a model expects: what export uses by default and a runtime uses to preprocess.

    Attributes:
        shape: ``(channels, height, width)``, without the batch dimension.
        mean: Per-channel mean subtracted after scaling to [0, 1].
        std: Per-channel standard deviation divided by after subtracting the mean.
        layout: Tensor layout; always ``"NCHW"`` for the zoo.
        channel_order: ``"RGB"`` or ``"GRAY"``.
        scale: Factor from 8-bit pixel values to [0, 1].
    """

    shape: tuple[int, int, int]
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    layout: str = "NCHW"
    channel_order: str = "RGB"
    scale: float = 1.0 / 255.0

    def with_channels(self, channels: int) -> InputSpec:
        """The same spec for a different number of input channels (``in_chans`` override)."""
        if channels == self.shape[0]:
            return self
        if channels == 1:
            mean, std, order = (sum(self.mean) / len(self.mean),), (sum(self.std) / len(self.std),), "GRAY"
        else:
            mean, std, order = (0.5,) * channels, (0.5,) * channels, "RGB" if channels == 3 else "CHANNELS"
        return InputSpec((channels, *self.shape[1:]), mean, std, self.layout, order, self.scale)


@dataclass(frozen=True)
class ModelInfo:
    """A registry entry.

    Attributes:
        name: Registry name, e.g. ``"resnet50"`` or ``"plain_resnet50"``.
        family: ``"resnet"``, ``"cifar_resnet"``, ``"mobilenet_v2"`` or ``"mobilenet_v3"``.
        builder: Callable that builds the network from the overrides it accepts.
        input_spec: The default input.
        num_classes: The default number of classes.
        residual: ``False`` for a plain twin.
        overrides: The override names the builder accepts.
        description: One line for listings.
    """

    name: str
    family: str
    builder: Callable[..., nn.Module] = field(repr=False)
    input_spec: InputSpec
    num_classes: int
    residual: bool = True
    overrides: tuple[str, ...] = ("num_classes", "in_chans", "residual")
    description: str = ""


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str,
    *,
    family: str,
    input_spec: InputSpec,
    num_classes: int,
    overrides: tuple[str, ...] = ("num_classes", "in_chans", "residual"),
    description: str = "",
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a model builder under ``name`` and its plain twin under ``plain_<name>``.

    Raises:
        ConfigError: The name (or its twin) is already registered.
    """

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        for entry_name, residual in ((name, True), (PLAIN_PREFIX + name, False)):
            if entry_name in _REGISTRY:
                raise ConfigError(f"model {entry_name!r} is already registered; pick another name")
            _REGISTRY[entry_name] = ModelInfo(
                entry_name, family, builder, input_spec, num_classes, residual, overrides, description
            )
        return builder

    return decorator


def list_models(*, include_plain: bool = True, family: str | None = None) -> list[str]:
    """The registered model names, residual networks first, then their plain twins.

    Raises:
        ConfigError: ``family`` is not a registered family.
    """
    families = sorted({info.family for info in _REGISTRY.values()})
    if family is not None and family not in families:
        raise ConfigError(f"unknown model family {family!r}; choose one of {', '.join(families)}")
    names = [n for n, info in _REGISTRY.items() if family in (None, info.family)]
    if not include_plain:
        names = [n for n in names if _REGISTRY[n].residual]
    return sorted(names, key=lambda n: (not _REGISTRY[n].residual, list(_REGISTRY).index(n)))


def get_model_info(name: str) -> ModelInfo:
    """The registry entry for ``name``.

    Raises:
        ModelNotFoundError: No such model; the message lists close names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise ModelNotFoundError(
            f"unknown model {name!r}; {hint}run 'edgeres models' to list the zoo"
        ) from None


def create_model(
    name: str,
    *,
    num_classes: int | None = None,
    in_chans: int | None = None,
    width_mult: float | None = None,
    residual: bool | None = None,
    weights: str | Path | None = None,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: Registry name (``edgeres models`` lists them).
        num_classes: Size of the classifier output.
        in_chans: Input channels (e.g. 1 for grey images).
        width_mult: Channel multiplier (MobileNets only).
        residual: ``False`` builds the plain twin; ``plain_<name>`` is the same.
        weights: A checkpoint file to load (``.pt``, ``.pth``, ``.safetensors``); a torchvision
            checkpoint of the same architecture loads as is.

    Returns:
        The network, in eval mode when weights were loaded.

    Raises:
        ModelNotFoundError: Unknown name.
        ConfigError: An override the model does not take, or an invalid value.
        CheckpointError: The weights cannot be loaded safely or do not fit.
    """
    info = get_model_info(name)
    given = {"num_classes": num_classes, "in_chans": in_chans, "width_mult": width_mult, "residual": residual}
    overrides = {key: value for key, value in given.items() if value is not None}
    unsupported = sorted(set(overrides) - set(info.overrides))
    if unsupported:
        raise ConfigError(
            f"model {name!r} does not take {', '.join(unsupported)}; it takes {', '.join(info.overrides)}"
        )
    if overrides.get("residual", info.residual) != info.residual and not info.residual:
        raise ConfigError(f"{name!r} is a plain twin; use {name[len(PLAIN_PREFIX):]!r} for the residual network")
    overrides["residual"] = overrides.get("residual", info.residual)
    if "residual" not in info.overrides:
        overrides.pop("residual")
    for key in ("num_classes", "in_chans"):
        if key in overrides and overrides[key] < 1:
            raise ConfigError(f"{key} must be a positive integer, got {overrides[key]}")
    if "width_mult" in overrides and not overrides["width_mult"] > 0:
        raise ConfigError(f"width_mult must be positive, got {overrides['width_mult']}")
    model = info.builder(**overrides)
    if weights is not None:
        from edgeres.models.checkpoint import load_checkpoint

        load_checkpoint(model, weights)
        model.eval()
    return model


def default_input_spec(name: str, *, in_chans: int | None = None) -> InputSpec:
    """The default input of a registered model, adjusted for an ``in_chans`` override."""
    spec = get_model_info(name).input_spec
    return spec if in_chans is None else spec.with_channels(in_chans)
