"""MobileNetV2 (Sandler et al. 2018) and MobileNetV3 large/small (Howard et al. 2019).

Architectures, channel rounding, initialization and BatchNorm settings are torchvision's, so parameter
counts and MACs are equal and torchvision checkpoints load (through :func:`torchvision_key_map`, since
our submodules are named by role: ``stem``, ``blocks.N.conv_pw``, ``head``, ``classifier``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from edgeres.blocks import ConvNormAct, InvertedResidual, LayerType, make_divisible
from edgeres.models.registry import InputSpec, register_model

IMAGENET_INPUT = InputSpec((3, 224, 224))

# (expansion t, output channels c, repeats n, first stride s): table 2 of the MobileNetV2 paper.
_V2_SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


@dataclass(frozen=True)
class BlockSpec:
    """One MobileNetV3 block: tables 1 and 2 of the paper (torchvision's ``InvertedResidualConfig``)."""

    in_chs: int
    kernel_size: int
    mid_chs: int
    out_chs: int
    se: bool
    act: str
    stride: int


_V3_LARGE = (
    BlockSpec(16, 3, 16, 16, False, "relu", 1),
    BlockSpec(16, 3, 64, 24, False, "relu", 2),
    BlockSpec(24, 3, 72, 24, False, "relu", 1),
    BlockSpec(24, 5, 72, 40, True, "relu", 2),
    BlockSpec(40, 5, 120, 40, True, "relu", 1),
    BlockSpec(40, 5, 120, 40, True, "relu", 1),
    BlockSpec(40, 3, 240, 80, False, "hard_swish", 2),
    BlockSpec(80, 3, 200, 80, False, "hard_swish", 1),
    BlockSpec(80, 3, 184, 80, False, "hard_swish", 1),
    BlockSpec(80, 3, 184, 80, False, "hard_swish", 1),
    BlockSpec(80, 3, 480, 112, True, "hard_swish", 1),
    BlockSpec(112, 3, 672, 112, True, "hard_swish", 1),
    BlockSpec(112, 5, 672, 160, True, "hard_swish", 2),
    BlockSpec(160, 5, 960, 160, True, "hard_swish", 1),
    BlockSpec(160, 5, 960, 160, True, "hard_swish", 1),
)
_V3_SMALL = (
    BlockSpec(16, 3, 16, 16, True, "relu", 2),
    BlockSpec(16, 3, 72, 24, False, "relu", 2),
    BlockSpec(24, 3, 88, 24, False, "relu", 1),
    BlockSpec(24, 5, 96, 40, True, "hard_swish", 2),
    BlockSpec(40, 5, 240, 40, True, "hard_swish", 1),
    BlockSpec(40, 5, 240, 40, True, "hard_swish", 1),
    BlockSpec(40, 5, 120, 48, True, "hard_swish", 1),
    BlockSpec(48, 5, 144, 48, True, "hard_swish", 1),
    BlockSpec(48, 5, 288, 96, True, "hard_swish", 2),
    BlockSpec(96, 5, 576, 96, True, "hard_swish", 1),
    BlockSpec(96, 5, 576, 96, True, "hard_swish", 1),
)


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNet initialization.
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0, 0.01)
            nn.init.zeros_(module.bias)


class MobileNetV2(nn.Module):
    """MobileNetV2: a 3x3 stem, 17 inverted residual blocks, a 1x1 head to 1280 channels, classifier.

    Args:
        num_classes: Classifier outputs.
        in_chans: Input channels.
        width_mult: Channel multiplier, applied with rounding to multiples of 8.
        residual: ``False`` builds the plain twin.
        dropout: Dropout before the classifier.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        residual: bool = True,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.residual = residual
        stem_chs = make_divisible(32 * width_mult)
        head_chs = make_divisible(1280 * max(1.0, width_mult))
        self.stem = ConvNormAct(in_chans, stem_chs, 3, stride=2, act_layer=nn.ReLU6)
        blocks, in_chs = [], stem_chs
        for exp_ratio, chs, repeats, first_stride in _V2_SETTING:
            out_chs = make_divisible(chs * width_mult)
            for i in range(repeats):
                stride = first_stride if i == 0 else 1
                blocks.append(
                    InvertedResidual(in_chs, out_chs, stride, exp_ratio, act_layer=nn.ReLU6, residual=residual)
                )
                in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvNormAct(in_chs, head_chs, 1, act_layer=nn.ReLU6)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(head_chs, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(torch.flatten(self.pool(x), 1)))


class MobileNetV3(nn.Module):
    """MobileNetV3: hard-swish stem, inverted residuals with SE, 1x1 head, pooled MLP classifier.

    Args:
        setting: The block table (large or small).
        head_fc_chs: Width of the hidden classifier layer (1280 large, 1024 small, before width_mult).
        num_classes: Classifier outputs.
        in_chans: Input channels.
        width_mult: Channel multiplier, applied with rounding to multiples of 8.
        residual: ``False`` builds the plain twin.
        dropout: Dropout before the last layer.
    """

    def __init__(
        self,
        setting: tuple[BlockSpec, ...],
        head_fc_chs: int,
        num_classes: int = 1000,
        in_chans: int = 3,
        width_mult: float = 1.0,
        residual: bool = True,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.residual = residual
        # torchvision (and the paper's TF reference) use these BatchNorm settings for MobileNetV3;
        # eps matters for exact parity with its checkpoints.
        norm_layer: LayerType = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        adjust = partial(_adjust, width_mult=width_mult)
        stem_chs = adjust(setting[0].in_chs)
        self.stem = ConvNormAct(in_chans, stem_chs, 3, stride=2, act_layer=nn.Hardswish, norm_layer=norm_layer)
        self.blocks = nn.Sequential(
            *(
                InvertedResidual(
                    adjust(spec.in_chs),
                    adjust(spec.out_chs),
                    spec.stride,
                    mid_chs=adjust(spec.mid_chs),
                    kernel_size=spec.kernel_size,
                    se_ratio=0.25 if spec.se else 0.0,
                    act_layer=spec.act,
                    norm_layer=norm_layer,
                    residual=residual,
                )
                for spec in setting
            )
        )
        last_chs = adjust(setting[-1].out_chs)
        head_chs = 6 * last_chs
        self.head = ConvNormAct(last_chs, head_chs, 1, act_layer=nn.Hardswish, norm_layer=norm_layer)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head_fc = nn.Linear(head_chs, adjust(head_fc_chs))
        self.head_act = nn.Hardswish(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(adjust(head_fc_chs), num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        x = self.head_act(self.head_fc(torch.flatten(self.pool(x), 1)))
        return self.classifier(self.dropout(x))


def _adjust(channels: int, width_mult: float) -> int:
    return make_divisible(channels * width_mult, 8)


def torchvision_key_map(model: nn.Module) -> dict[str, str]:
    """Module paths of a MobileNet mapped to the paths torchvision uses for the same layers.

    torchvision names layers by position (``features.3.conv.0.0``); edgeres names them by role
    (``blocks.2.conv_pw``). This is the one place that knows both.

    Args:
        model: A :class:`MobileNetV2` or :class:`MobileNetV3`.

    Returns:
        ``{our_module_path: torchvision_module_path}`` for every module that holds parameters or
        buffers.
    """
    if isinstance(model, MobileNetV2):
        inner, tail = "conv", {"head_fc": None, "classifier": "classifier.1"}
    elif isinstance(model, MobileNetV3):
        inner, tail = "block", {"head_fc": "classifier.0", "classifier": "classifier.3"}
    else:
        raise TypeError(f"no torchvision mapping for {type(model).__name__}")
    mapping = {"stem.conv": "features.0.0", "stem.bn": "features.0.1"}
    for index, block in enumerate(model.blocks):
        ours, theirs = f"blocks.{index}", f"features.{index + 1}.{inner}"
        position = 0
        pairs = []
        if block.has_expansion:
            pairs += [("conv_pw", f"{position}.0"), ("bn1", f"{position}.1")]
            position += 1
        pairs += [("conv_dw", f"{position}.0"), ("bn2", f"{position}.1")]
        position += 1
        if block.has_se:
            pairs += [("se.conv_reduce", f"{position}.fc1"), ("se.conv_expand", f"{position}.fc2")]
            position += 1
        if isinstance(model, MobileNetV2):
            # torchvision V2 keeps the projection as a bare Conv2d and BatchNorm2d in the Sequential.
            pairs += [("conv_pwl", f"{position}"), ("bn3", f"{position + 1}")]
        else:
            pairs += [("conv_pwl", f"{position}.0"), ("bn3", f"{position}.1")]
        mapping.update({f"{ours}.{a}": f"{theirs}.{b}" for a, b in pairs})
    last = len(model.blocks) + 1
    mapping.update({"head.conv": f"features.{last}.0", "head.bn": f"features.{last}.1"})
    mapping.update({ours: theirs for ours, theirs in tail.items() if theirs is not None})
    return mapping


@register_model(
    "mobilenet_v2",
    family="mobilenet_v2",
    input_spec=IMAGENET_INPUT,
    num_classes=1000,
    overrides=("num_classes", "in_chans", "width_mult", "residual"),
    description="MobileNetV2 (Sandler et al. 2018)",
)
def mobilenet_v2(
    num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0, residual: bool = True
) -> MobileNetV2:
    """MobileNetV2 for 224x224 images; ``width_mult`` scales every layer's channels."""
    return MobileNetV2(num_classes, in_chans, width_mult, residual)


@register_model(
    "mobilenet_v3_large",
    family="mobilenet_v3",
    input_spec=IMAGENET_INPUT,
    num_classes=1000,
    overrides=("num_classes", "in_chans", "width_mult", "residual"),
    description="MobileNetV3-Large (Howard et al. 2019)",
)
def mobilenet_v3_large(
    num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0, residual: bool = True
) -> MobileNetV3:
    """MobileNetV3-Large for 224x224 images."""
    return MobileNetV3(_V3_LARGE, 1280, num_classes, in_chans, width_mult, residual)


@register_model(
    "mobilenet_v3_small",
    family="mobilenet_v3",
    input_spec=IMAGENET_INPUT,
    num_classes=1000,
    overrides=("num_classes", "in_chans", "width_mult", "residual"),
    description="MobileNetV3-Small (Howard et al. 2019)",
)
def mobilenet_v3_small(
    num_classes: int = 1000, in_chans: int = 3, width_mult: float = 1.0, residual: bool = True
) -> MobileNetV3:
    """MobileNetV3-Small for 224x224 images."""
    return MobileNetV3(_V3_SMALL, 1024, num_classes, in_chans, width_mult, residual)
