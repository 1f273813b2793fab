"""Parameter and multiply-accumulate counts of a PyTorch model.

MACs count convolutions and linear layers only, the convention behind torchvision's published
"GFLOPS" figures (which are really GMACs), so the numbers compare directly.
"""

from __future__ import annotations

import torch
from torch import nn


def count_params(model: nn.Module, *, trainable_only: bool = False) -> int:
    """The number of parameters (each shared tensor once)."""
    seen = {id(p): p for p in model.parameters() if p.requires_grad or not trainable_only}
    return sum(p.numel() for p in seen.values())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of the convolutions and linear layers for one forward pass.

    Args:
        model: The network.
        input_shape: The full input shape, batch included, e.g. ``(1, 3, 224, 224)``.

    Returns:
        The MAC count for that input (it scales with the batch size).
    """
    total = 0

    def on_conv(module: nn.Conv2d, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.weight.shape[2] * module.weight.shape[3]
        total += output.numel() * (module.in_channels // module.groups) * kernel

    def on_linear(module: nn.Linear, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * module.in_features

    handles = []
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(on_conv))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(on_linear))
    # The input goes where the model is: a model built on the "meta" device counts without computing.
    device = next(model.parameters()).device
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return total
