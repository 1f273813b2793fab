"""The zoo: every registered model builds and runs; figures and state_dict layouts equal torchvision's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgeres.errors import ConfigError, ModelNotFoundError
from edgeres.models import (
    count_macs,
    count_params,
    create_model,
    default_input_spec,
    get_model_info,
    list_models,
    register_model,
    torchvision_key_map,
)

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision_reference.json").read_text())["models"]

# ../shared/DATA.md: torchvision 0.29.1 at 224x224, MACs of conv + linear layers.
TORCHVISION_FIGURES = {
    "resnet18": (11_689_512, 1.814),
    "resnet34": (21_797_672, 3.664),
    "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801),
    "resnet152": (60_192_808, 11.514),
    "mobilenet_v2": (3_504_872, 0.301),
    "mobilenet_v3_large": (5_483_032, 0.217),
    "mobilenet_v3_small": (2_542_856, 0.057),
    # torchvision's model metadata (GFLOPS field) for the other two.
    "resnext50_32x4d": (25_028_904, 4.23),
    "wide_resnet50_2": (68_883_240, 11.4),
}


@pytest.mark.parametrize("name", list_models())
def test_every_model_builds_and_runs_on_a_small_input(name: str) -> None:
    info = get_model_info(name)
    model = create_model(name, num_classes=7).eval()
    channels, height, _ = info.input_spec.shape
    side = 32 if height == 32 else 64
    with torch.no_grad():
        out = model(torch.randn(2, channels, side, side))
    assert out.shape == (2, 7)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(TORCHVISION_FIGURES))
def test_params_and_macs_equal_torchvision(name: str) -> None:
    params, gmacs = TORCHVISION_FIGURES[name]
    with torch.device("meta"):
        model = create_model(name)
    assert count_params(model) == params
    assert count_macs(model, (1, 3, 224, 224)) / 1e9 == pytest.approx(gmacs, abs=0.0015 if gmacs < 5 else 0.05)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_state_dict_layout_equals_real_torchvision(name: str) -> None:
    """Keys (through the one key map, for MobileNets) and shapes equal a real torchvision's."""
    with torch.device("meta"):
        model = create_model(name)
    ours = {key: list(value.shape) for key, value in model.state_dict().items()}
    if name.startswith("mobilenet"):
        modules = torchvision_key_map(model)
        renamed = {}
        for key, shape in ours.items():
            module, _, leaf = key.rpartition(".")
            renamed[f"{modules[module]}.{leaf}"] = shape
        ours = renamed
    assert ours == REFERENCE[name]["state_dict"]
    assert count_params(model) == REFERENCE[name]["params"]


@pytest.mark.parametrize("depth,params", [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6), (56, 0.85e6), (110, 1.7e6)])
def test_cifar_resnets_match_the_paper(depth: int, params: float) -> None:
    # He et al. 2016, table 6: parameter counts of the CIFAR-10 ResNets (option A shortcuts).
    model = create_model(f"resnet{depth}")
    assert count_params(model) == pytest.approx(params, rel=0.03)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) + 1 == depth


def test_overrides() -> None:
    model = create_model("mobilenet_v2", width_mult=0.5, num_classes=10, in_chans=1)
    assert model.stem.conv.in_channels == 1 and model.classifier.out_features == 10
    assert model.stem.conv.out_channels == 16  # make_divisible(32 * 0.5)
    assert default_input_spec("resnet18", in_chans=1).shape == (1, 224, 224)
    with pytest.raises(ConfigError, match="does not take width_mult"):
        create_model("resnet18", width_mult=0.5)
    with pytest.raises(ConfigError, match="num_classes must be a positive"):
        create_model("resnet18", num_classes=0)
    with pytest.raises(ConfigError, match="plain twin"):
        create_model("plain_resnet18", residual=True)


def test_unknown_model_lists_close_names() -> None:
    with pytest.raises(ModelNotFoundError, match="did you mean .*resnet50"):
        create_model("resnet5O")


def test_registering_a_name_twice_raises() -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_model("resnet18", family="resnet", input_spec=default_input_spec("resnet18"), num_classes=1000)(
            lambda: None
        )
    assert "resnet18" in list_models()
