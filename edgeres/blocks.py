"""The building blocks of residual networks.

One concept per class, parameterized the same way everywhere (``in_chs``, ``out_chs``, ``mid_chs``,
``stride``, ``exp_ratio``, ``se_ratio``; ``act_layer``, ``norm_layer``). Submodules are named by role
(``conv_pw``, ``bn1``, ``conv_dw``, ``bn2``, ``se``, ``conv_pwl``, ``bn3``; ``conv1``, ``bn1``,
``downsample``): these names become ONNX node names that quantization exclusion lists and TensorRT
per-layer precision refer to, so they must stay stable.

Every block with a skip connection takes ``residual``: with ``False`` it is the plain twin, the same
layers on the main path with no addition (He et al. 2016, "plain networks", section 4.1), so every
network in the zoo has a plain counterpart for ablations. A plain twin drops the whole skip path,
including a projection shortcut, as the paper's plain baselines do.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from edgeres.errors import ConfigError

LayerType = type[nn.Module] | Callable[..., nn.Module]

_ACTIVATIONS: dict[str, LayerType] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hard_swish": nn.Hardswish,
    "hard_sigmoid": nn.Hardsigmoid,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "identity": nn.Identity,
}


def get_act_layer(act: str | LayerType | None) -> LayerType:
    """Resolve an activation given as a class or a name (``"relu"``, ``"relu6"``, ``"hard_swish"``, ...).

    ``None`` means no activation (``nn.Identity``).

    Raises:
        ConfigError: The name is not a known activation.
    """
    if act is None:
        return nn.Identity
    if isinstance(act, str):
        try:
            return _ACTIVATIONS[act]
        except KeyError:
            raise ConfigError(
                f"unknown activation {act!r}; choose one of {', '.join(sorted(_ACTIVATIONS))}"
            ) from None
    return act


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor``, never going down by more than 10%.

    This is the rounding of the MobileNet reference implementations (and torchvision's
    ``_make_divisible``), which decides the channel counts, so parameter counts match theirs.
    """
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def _act(act_layer: LayerType) -> nn.Module:
    # ReLU-family activations run in place in eager mode; ONNX export is unaffected either way.
    if act_layer in (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU):
        return act_layer(inplace=True)
    return act_layer()


class ConvNormAct(nn.Module):
    """Convolution, normalization, activation: the unit every network here is made of.

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        kernel_size: Square kernel size; padding keeps the spatial size at stride 1.
        stride: Convolution stride.
        dilation: Convolution dilation.
        groups: Convolution groups (``groups == in_chs == out_chs`` is a depthwise convolution).
        act_layer: Activation class or name; ``None`` for none.
        norm_layer: Normalization class (BatchNorm2d by default).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        act_layer: str | LayerType | None = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=False
        )
        self.bn = norm_layer(out_chs)
        self.act = _act(get_act_layer(act_layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): channel gates from globally pooled features.

    Args:
        in_chs: Channels of the gated tensor.
        rd_chs: Channels of the reduced (squeezed) representation.
        act_layer: Activation between the two 1x1 convolutions.
        gate_layer: Gate activation (hard sigmoid as in MobileNetV3, or sigmoid).
    """

    def __init__(
        self,
        in_chs: int,
        rd_chs: int,
        act_layer: str | LayerType = nn.ReLU,
        gate_layer: str | LayerType = nn.Hardsigmoid,
    ) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(in_chs, rd_chs, 1, bias=True)
        self.act = _act(get_act_layer(act_layer))
        self.conv_expand = nn.Conv2d(rd_chs, in_chs, 1, bias=True)
        self.gate = _act(get_act_layer(gate_layer))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.conv_expand(self.act(self.conv_reduce(scale)))
        return x * self.gate(scale)


class InvertedResidual(nn.Module):
    """MobileNet's inverted residual: 1x1 expansion, depthwise KxK, optional SE, 1x1 linear projection.

    MobileNetV2 (Sandler et al. 2018) uses ReLU6 and no SE; MobileNetV3 (Howard et al. 2019) adds SE and
    hard-swish in later blocks. The skip exists only when ``stride == 1`` and ``in_chs == out_chs``
    (and ``residual`` is true). With ``mid_chs == in_chs`` there is no expansion convolution.

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        stride: Stride of the depthwise convolution.
        exp_ratio: Expansion ratio; the hidden width is ``round(in_chs * exp_ratio)``.
        mid_chs: The hidden width, when given explicitly (MobileNetV3 lists it per block); overrides
            ``exp_ratio``.
        kernel_size: Depthwise kernel size (3 or 5).
        se_ratio: Squeeze-excite reduction relative to the hidden width; 0 for no SE.
        act_layer: Activation after the expansion and the depthwise convolution.
        norm_layer: Normalization class.
        residual: Whether the skip connection exists where the shapes allow it.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        exp_ratio: float = 6.0,
        mid_chs: int | None = None,
        kernel_size: int = 3,
        se_ratio: float = 0.0,
        act_layer: str | LayerType = nn.ReLU6,
        norm_layer: LayerType = nn.BatchNorm2d,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ConfigError(f"InvertedResidual stride must be 1 or 2, got {stride}")
        mid_chs = round(in_chs * exp_ratio) if mid_chs is None else mid_chs
        act = get_act_layer(act_layer)
        self.residual = residual
        self.has_skip = residual and stride == 1 and in_chs == out_chs
        self.has_expansion = mid_chs != in_chs

        if self.has_expansion:
            self.conv_pw = nn.Conv2d(in_chs, mid_chs, 1, bias=False)
            self.bn1 = norm_layer(mid_chs)
            self.act1 = _act(act)
        else:
            self.conv_pw = self.bn1 = self.act1 = nn.Identity()
        self.conv_dw = nn.Conv2d(
            mid_chs, mid_chs, kernel_size, stride, (kernel_size - 1) // 2, groups=mid_chs, bias=False
        )
        self.bn2 = norm_layer(mid_chs)
        self.act2 = _act(act)
        if se_ratio > 0:
            self.se = SqueezeExcite(mid_chs, make_divisible(int(mid_chs * se_ratio), 8))
        else:
            self.se = nn.Identity()
        self.conv_pwl = nn.Conv2d(mid_chs, out_chs, 1, bias=False)
        self.bn3 = norm_layer(out_chs)

    @property
    def has_se(self) -> bool:
        """Whether the block has a squeeze-excite module."""
        return isinstance(self.se, SqueezeExcite)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv_pw(x)))
        out = self.act2(self.bn2(self.conv_dw(out)))
        out = self.se(out)
        out = self.bn3(self.conv_pwl(out))
        if self.has_skip:
            out = out + x
        return out


class PadShortcut(nn.Module):
    """The parameter-free shortcut of He et al. 2016 (option A, used for CIFAR, section 4.2).

    Subsamples spatially by the stride and pads the new channels with zeros.
    """

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        if out_chs < in_chs:
            raise ConfigError(f"PadShortcut cannot shrink channels ({in_chs} -> {out_chs})")
        self.stride = stride
        self.extra = out_chs - in_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x


def _make_shortcut(
    in_chs: int, out_chs: int, stride: int, shortcut: str, norm_layer: LayerType
) -> nn.Module | None:
    if stride == 1 and in_chs == out_chs:
        return None
    if shortcut == "conv":
        # Projection shortcut (option B); the keys downsample.0 / downsample.1 match torchvision.
        return nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, stride, bias=False), norm_layer(out_chs))
    if shortcut == "pad":
        return PadShortcut(in_chs, out_chs, stride)
    raise ConfigError(f"unknown shortcut {shortcut!r}; choose 'conv' (projection) or 'pad' (zero padding)")


class BasicBlock(nn.Module):
    """ResNet's basic block: two 3x3 convolutions and a skip (He et al. 2016, figure 5 left).

    Args:
        in_chs: Input channels.
        out_chs: Output channels.
        stride: Stride of the first convolution.
        groups: Must be 1 (as in torchvision).
        base_width: Must be 64 (as in torchvision).
        dilation: Must be 1.
        shortcut: ``"conv"`` for a projection where the shape changes, ``"pad"`` for zero padding.
        act_layer: Activation class or name.
        norm_layer: Normalization class.
        residual: With ``False``, the plain twin: no skip and no shortcut layers.
    """

    expansion = 1

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        shortcut: str = "conv",
        act_layer: str | LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64 or dilation != 1:
            raise ConfigError("BasicBlock supports only groups=1, base_width=64, dilation=1; use Bottleneck")
        act = get_act_layer(act_layer)
        self.residual = residual
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)
        self.bn1 = norm_layer(out_chs)
        self.act1 = _act(act)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, 1, 1, bias=False)
        self.bn2 = norm_layer(out_chs)
        self.act2 = _act(act)
        self.downsample = _make_shortcut(in_chs, out_chs, stride, shortcut, norm_layer) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.act2(out)


class Bottleneck(nn.Module):
    """ResNet v1.5 bottleneck: 1x1 reduce, 3x3 (stride here, not on the 1x1), 1x1 expand, skip.

    The width of the 3x3 is ``int(out_chs / 4 * base_width / 64) * groups``, which covers ResNet
    (groups=1, base_width=64), ResNeXt (e.g. groups=32, base_width=4) and wide ResNets (base_width=128).

    Args:
        in_chs: Input channels.
        out_chs: Output channels (4x the block's "planes").
        stride: Stride of the 3x3 convolution (ResNet v1.5).
        groups: Groups of the 3x3 convolution (ResNeXt cardinality).
        base_width: Width per group (64 for ResNet).
        dilation: Dilation of the 3x3 convolution.
        shortcut: ``"conv"`` for a projection where the shape changes, ``"pad"`` for zero padding.
        act_layer: Activation class or name.
        norm_layer: Normalization class.
        residual: With ``False``, the plain twin: no skip and no shortcut layers.
    """

    expansion = 4

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        shortcut: str = "conv",
        act_layer: str | LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        residual: bool = True,
    ) -> None:
        super().__init__()
        if out_chs % self.expansion:
            raise ConfigError(f"Bottleneck out_chs must be a multiple of {self.expansion}, got {out_chs}")
        act = get_act_layer(act_layer)
        mid_chs = int(out_chs // self.expansion * (base_width / 64.0)) * groups
        self.residual = residual
        self.conv1 = nn.Conv2d(in_chs, mid_chs, 1, bias=False)
        self.bn1 = norm_layer(mid_chs)
        self.act1 = _act(act)
        self.conv2 = nn.Conv2d(
            mid_chs, mid_chs, 3, stride, dilation, dilation=dilation, groups=groups, bias=False
        )
        self.bn2 = norm_layer(mid_chs)
        self.act2 = _act(act)
        self.conv3 = nn.Conv2d(mid_chs, out_chs, 1, bias=False)
        self.bn3 = norm_layer(out_chs)
        self.act3 = _act(act)
        self.downsample = _make_shortcut(in_chs, out_chs, stride, shortcut, norm_layer) if residual else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.act3(out)
