"""One summary row per registered model: what ``edgeres models`` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from edgeres.models.cost import count_macs, count_params
from edgeres.models.registry import create_model, get_model_info, list_models


@dataclass(frozen=True)
class ModelSummary:
    """Figures of one registered model at its default input and class count."""

    name: str
    family: str
    residual: bool
    params: int
    macs: int
    input_shape: tuple[int, int, int]
    num_classes: int
    description: str

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def summarize_model(name: str) -> ModelSummary:
    """Parameters and MACs of a registered model, counted on PyTorch's ``meta`` device (no compute)."""
    info = get_model_info(name)
    with torch.device("meta"):
        model = create_model(name)
    macs = count_macs(model, (1, *info.input_spec.shape))
    return ModelSummary(
        name, info.family, info.residual, count_params(model), macs, info.input_spec.shape,
        info.num_classes, info.description,
    )


def summarize_models(*, family: str | None = None, include_plain: bool = True) -> list[ModelSummary]:
    """Summaries of the registered models, residual networks first."""
    return [summarize_model(name) for name in list_models(include_plain=include_plain, family=family)]
