"""Gradient flow through depth: the reason residual connections exist.

:func:`gradient_profile` runs one forward and backward pass at initialization and records the gradient
norm of every convolution and linear layer's weight, from the input side to the output side. Comparing a
network with its plain twin shows what the skip connections do. With BatchNorm in training mode, deep
plain networks do not so much lose their gradient as lose its scale: the gradient at the first layers
grows by orders of magnitude over the classifier's (the gradient explosion of deep BatchNorm networks,
Yang et al. 2019, "A Mean Field Theory of Batch Normalization"), while the residual twin keeps every
layer within a small factor (He et al. 2016, section 4.2; Balduzzi et al. 2017, "The Shattered
Gradients Problem").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class GradientProfile:
    """Gradient norms of the weight layers, in forward order.

    Attributes:
        layers: Module paths of the convolutions and linear layers (shortcut layers excluded).
        norms: L2 norm of each layer's weight gradient.
    """

    layers: tuple[str, ...]
    norms: tuple[float, ...]

    @property
    def first_to_last(self) -> float:
        """Gradient norm at the first layer divided by that at the last: 1 is perfectly balanced."""
        return self.norms[0] / self.norms[-1]

    @property
    def spread(self) -> float:
        """Largest over smallest layer gradient norm: how far the scales drift through depth."""
        return max(self.norms) / min(self.norms)


def gradient_profile(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, train_mode: bool = True
) -> GradientProfile:
    """One backward pass of the cross-entropy loss; the weight-gradient norm of each layer.

    Args:
        model: A classifier (left with its gradients zeroed afterwards, mode restored).
        inputs: A batch of inputs.
        targets: Class indices for the batch.
        train_mode: Run BatchNorm with batch statistics, as in training (the default).

    Returns:
        The per-layer gradient norms, from input to output.
    """
    layers = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, (nn.Conv2d, nn.Linear)) and "downsample" not in name
    ]
    was_training = model.training
    model.train(train_mode)
    model.zero_grad(set_to_none=True)
    try:
        loss = nn.functional.cross_entropy(model(inputs), targets)
        loss.backward()
        norms = tuple(float(module.weight.grad.norm()) for _, module in layers)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return GradientProfile(tuple(name for name, _ in layers), norms)
