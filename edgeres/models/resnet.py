"""ResNet, ResNeXt and wide ResNet for ImageNet, and the CIFAR ResNets of He et al. 2016.

The ImageNet networks are ResNet v1.5 (stride on the 3x3 of the bottleneck), with torchvision's
architecture, initialization and ``state_dict`` keys, so torchvision checkpoints load as they are.
The CIFAR networks follow section 4.2 of the paper: a 3x3 stem of 16 channels, three stages of
``n`` basic blocks with 16, 32 and 64 channels, parameter-free (option A) shortcuts; depth = 6n + 2.
"""

from __future__ import annotations

import torch
from torch import nn

from edgeres.blocks import BasicBlock, Bottleneck
from edgeres.errors import ConfigError
from edgeres.models.registry import CIFAR_MEAN, CIFAR_STD, InputSpec, register_model

IMAGENET_INPUT = InputSpec((3, 224, 224))
CIFAR_INPUT = InputSpec((3, 32, 32), CIFAR_MEAN, CIFAR_STD)


def _init_weights(model: nn.Module) -> None:
    # torchvision's initialization: He normal (fan_out) for convolutions, identity BatchNorm.
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class ResNet(nn.Module):
    """ResNet for 224x224 images: 7x7 stem, max pool, four stages, global pool, classifier.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: Blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
        num_classes: Classifier outputs.
        in_chans: Input channels.
        groups: Groups of the bottleneck 3x3 (ResNeXt cardinality).
        width_per_group: Width per group of the bottleneck 3x3 (64 for ResNet).
        residual: ``False`` builds the plain twin.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        num_classes: int = 1000,
        in_chans: int = 3,
        groups: int = 1,
        width_per_group: int = 64,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_chs = 64
        for index, (planes, depth) in enumerate(zip((64, 128, 256, 512), layers)):
            out_chs = planes * block.expansion
            stage = []
            for i in range(depth):
                stride = 2 if index > 0 and i == 0 else 1
                stage.append(
                    block(in_chs, out_chs, stride, groups, width_per_group, residual=residual)
                )
                in_chs = out_chs
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_chs, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class CifarResNet(nn.Module):
    """The CIFAR ResNet of He et al. 2016, section 4.2, for 32x32 images.

    Args:
        depth: ``6n + 2`` (20, 32, 44, 56, 110, ...).
        num_classes: Classifier outputs.
        in_chans: Input channels.
        residual: ``False`` builds the plain twin.
    """

    def __init__(self, depth: int, num_classes: int = 10, in_chans: int = 3, residual: bool = True) -> None:
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ConfigError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110), got {depth}")
        blocks_per_stage = (depth - 2) // 6
        self.residual = residual
        self.conv1 = nn.Conv2d(in_chans, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        in_chs = 16
        for index, out_chs in enumerate((16, 32, 64)):
            stage = []
            for i in range(blocks_per_stage):
                stride = 2 if index > 0 and i == 0 else 1
                stage.append(BasicBlock(in_chs, out_chs, stride, shortcut="pad", residual=residual))
                in_chs = out_chs
            setattr(self, f"layer{index + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


_IMAGENET = {
    "resnet18": (BasicBlock, (2, 2, 2, 2), 1, 64, "ResNet-18 (He et al. 2016)"),
    "resnet34": (BasicBlock, (3, 4, 6, 3), 1, 64, "ResNet-34 (He et al. 2016)"),
    "resnet50": (Bottleneck, (3, 4, 6, 3), 1, 64, "ResNet-50 v1.5"),
    "resnet101": (Bottleneck, (3, 4, 23, 3), 1, 64, "ResNet-101 v1.5"),
    "resnet152": (Bottleneck, (3, 8, 36, 3), 1, 64, "ResNet-152 v1.5"),
    "resnext50_32x4d": (Bottleneck, (3, 4, 6, 3), 32, 4, "ResNeXt-50 32x4d (Xie et al. 2017)"),
    "wide_resnet50_2": (Bottleneck, (3, 4, 6, 3), 1, 128, "Wide ResNet-50-2 (Zagoruyko & Komodakis 2016)"),
}


def _register_imagenet(name: str) -> None:
    block, layers, groups, width, description = _IMAGENET[name]

    @register_model(
        name, family="resnet", input_spec=IMAGENET_INPUT, num_classes=1000, description=description
    )
    def build(num_classes: int = 1000, in_chans: int = 3, residual: bool = True) -> ResNet:
        return ResNet(block, layers, num_classes, in_chans, groups, width, residual)

    build.__name__ = name
    build.__doc__ = f"{description}: 224x224 input, 1000 classes by default."


def _register_cifar(depth: int) -> None:
    name = f"resnet{depth}"

    @register_model(
        name,
        family="cifar_resnet",
        input_spec=CIFAR_INPUT,
        num_classes=10,
        description=f"CIFAR ResNet-{depth} (He et al. 2016, section 4.2)",
    )
    def build(num_classes: int = 10, in_chans: int = 3, residual: bool = True) -> CifarResNet:
        return CifarResNet(depth, num_classes, in_chans, residual)

    build.__name__ = name
    build.__doc__ = f"CIFAR ResNet-{depth}: 32x32 input, 10 classes by default."


for _name in _IMAGENET:
    _register_imagenet(_name)
for _depth in (20, 32, 44, 56, 110):
    _register_cifar(_depth)
