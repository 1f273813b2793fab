"""The residual blocks and their plain twins."""

from __future__ import annotations

import operator

import pytest
import torch
from torch import fx, nn

from edgeres.blocks import BasicBlock, Bottleneck, ConvNormAct, InvertedResidual, SqueezeExcite, make_divisible
from edgeres.errors import ConfigError
from edgeres.models import count_params, create_model, list_models


def count_additions(model: nn.Module) -> int:
    """The tensor additions in the traced graph (the skip connections)."""
    graph = fx.symbolic_trace(model).graph
    return sum(
        node.op == "call_function" and node.target in (operator.add, torch.add) for node in graph.nodes
    )


def skip_count(model: nn.Module) -> int:
    return sum(
        getattr(m, "has_skip", getattr(m, "residual", False))
        for m in model.modules()
        if isinstance(m, (BasicBlock, Bottleneck, InvertedResidual))
    )


@pytest.mark.parametrize("name", [n for n in list_models(include_plain=False)])
def test_plain_twin_removes_exactly_the_additions(name: str) -> None:
    residual, plain = create_model(name), create_model(f"plain_{name}")
    additions = count_additions(residual)
    assert additions == skip_count(residual) > 0
    assert count_additions(plain) == 0
    # The plain twin has the same main-path layers; only projection shortcuts (part of the skip) go.
    projection = sum(
        count_params(m.downsample) for m in residual.modules() if getattr(m, "downsample", None) is not None
    )
    assert count_params(plain) == count_params(residual) - projection
    main_path = lambda model: [(n, p.shape) for n, p in model.named_parameters() if "downsample" not in n]  # noqa: E731
    assert main_path(plain) == main_path(residual)


def test_identity_shortcut_networks_keep_their_parameter_count() -> None:
    for name in ("resnet56", "mobilenet_v2", "mobilenet_v3_small"):
        assert count_params(create_model(f"plain_{name}")) == count_params(create_model(name))


def test_inverted_residual_skip_only_where_shapes_allow() -> None:
    assert InvertedResidual(16, 16, stride=1).has_skip
    assert not InvertedResidual(16, 16, stride=2).has_skip
    assert not InvertedResidual(16, 24, stride=1).has_skip
    assert not InvertedResidual(16, 16, stride=1, residual=False).has_skip
    block = InvertedResidual(16, 16, exp_ratio=1)
    assert not block.has_expansion and isinstance(block.conv_pw, nn.Identity)


def test_inverted_residual_v3_form_with_se_and_hard_swish() -> None:
    block = InvertedResidual(40, 40, mid_chs=240, kernel_size=5, se_ratio=0.25, act_layer="hard_swish")
    assert block.has_se and isinstance(block.act2, nn.Hardswish)
    assert block.conv_dw.kernel_size == (5, 5) and block.conv_dw.groups == 240
    assert block.se.conv_reduce.out_channels == make_divisible(60, 8) == 64
    out = block.eval()(torch.randn(1, 40, 8, 8))
    assert out.shape == (1, 40, 8, 8)


def test_residual_block_adds_its_input() -> None:
    # With the last BatchNorm's scale at zero, the branch is zero: a residual block is then the
    # identity (followed by its ReLU), its plain twin outputs zeros.
    for residual in (True, False):
        block = BasicBlock(8, 8, residual=residual).eval()
        nn.init.zeros_(block.bn2.weight)
        x = torch.rand(1, 8, 5, 5)
        expected = x if residual else torch.zeros_like(x)
        assert torch.allclose(block(x), expected)


def test_bottleneck_widths_for_resnext_and_wide() -> None:
    assert Bottleneck(256, 256, groups=32, base_width=4).conv2.out_channels == 128  # ResNeXt 32x4d
    assert Bottleneck(256, 256, base_width=128).conv2.out_channels == 128  # Wide ResNet-50-2
    assert Bottleneck(64, 256, stride=2).conv2.stride == (2, 2)  # v1.5: stride on the 3x3
    assert Bottleneck(64, 256, stride=2).conv1.stride == (1, 1)


def test_pad_shortcut_is_parameter_free() -> None:
    block = BasicBlock(16, 32, stride=2, shortcut="pad").eval()
    assert count_params(block.downsample) == 0
    assert block(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)


def test_block_argument_errors() -> None:
    with pytest.raises(ConfigError, match="unknown activation"):
        ConvNormAct(3, 8, act_layer="gelu_fast")
    with pytest.raises(ConfigError, match="stride must be 1 or 2"):
        InvertedResidual(8, 8, stride=3)
    with pytest.raises(ConfigError, match="unknown shortcut"):
        BasicBlock(8, 16, stride=2, shortcut="mystery")
    with pytest.raises(ConfigError, match="groups=1"):
        BasicBlock(8, 8, groups=2)


def test_squeeze_excite_gates_channels() -> None:
    se = SqueezeExcite(8, 4)
    x = torch.randn(2, 8, 4, 4)
    assert se(x).shape == x.shape
