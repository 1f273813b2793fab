"""Safe checkpoint loading, torchvision checkpoints, and clear errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from edgeres.errors import CheckpointError
from edgeres.models import create_model, default_input_spec, load_checkpoint, torchvision_key_map
from edgeres.preprocess import preprocess_image

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision_reference.json").read_text())["models"]


def test_real_torchvision_mobilenet_v2_classifies_real_photos(mobilenet_v2_imagenet_weights: Path) -> None:
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image ships the test photos")
    model = create_model("mobilenet_v2", weights=mobilenet_v2_imagenet_weights)
    report = load_checkpoint(create_model("mobilenet_v2"), mobilenet_v2_imagenet_weights)
    assert report.key_format == "torchvision" and report.tensors == 314
    spec = default_input_spec("mobilenet_v2")
    photos = {"chelsea": 285, "coffee": 967}  # Egyptian cat, espresso
    batch = np.stack([preprocess_image(getattr(skimage_data, n)(), (224, 224), spec.mean, spec.std) for n in photos])
    with torch.no_grad():
        predicted = model(torch.from_numpy(batch)).argmax(1).tolist()
    assert predicted == list(photos.values())


def test_torchvision_keys_map_onto_every_parameter() -> None:
    """The key map covers the real torchvision key lists exactly, for all three MobileNets."""
    for name in ("mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"):
        model = create_model(name)
        modules = torchvision_key_map(model)
        mapped = {f"{modules[k.rpartition('.')[0]]}.{k.rpartition('.')[2]}" for k in model.state_dict()}
        assert mapped == set(REFERENCE[name]["state_dict"])


def test_torchvision_layout_checkpoint_round_trip(tmp_path: Path) -> None:
    """A state dict in torchvision's layout, saved as .pth and .safetensors, loads exactly."""
    source = create_model("mobilenet_v3_small").eval()
    modules = torchvision_key_map(source)
    tv_state = {f"{modules[k.rpartition('.')[0]]}.{k.rpartition('.')[2]}": v for k, v in source.state_dict().items()}
    torch.save({"state_dict": tv_state}, tmp_path / "tv.pth")
    save_file({k: v.contiguous() for k, v in tv_state.items()}, str(tmp_path / "tv.safetensors"))
    x = torch.randn(1, 3, 64, 64)
    for file in ("tv.pth", "tv.safetensors"):
        target = create_model("mobilenet_v3_small")
        report = load_checkpoint(target, tmp_path / file)
        assert report.key_format == "torchvision"
        with torch.no_grad():
            assert torch.equal(target.eval()(x), source(x))


def test_data_parallel_prefix_and_missing_bookkeeping_buffers(tmp_path: Path) -> None:
    source = create_model("resnet20")
    state = {f"module.{k}": v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "dp.pt")
    report = load_checkpoint(create_model("resnet20"), tmp_path / "dp.pt")
    assert report.key_format == "edgeres" and report.filled


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoint_with_a_pickled_callable_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": create_model("resnet20").state_dict(), "hook": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load .*evil.pth.*pickled Python objects"):
        load_checkpoint(create_model("resnet20"), path)


def test_mismatched_checkpoint_names_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "r20.pt"
    torch.save(create_model("resnet20", num_classes=5).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"wrong shape: fc.weight \(checkpoint \(5, 64\), model \(10, 64\)\)"):
        load_checkpoint(create_model("resnet20"), path)
    with pytest.raises(CheckpointError, match=r"missing: layer1.3.conv1.weight, .*\(60 in all\)"):
        load_checkpoint(create_model("resnet32", num_classes=5), path)


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(create_model("resnet20"), tmp_path / "nope.pth")
    (tmp_path / "weights.h5").write_bytes(b"\x89HDF")
    with pytest.raises(CheckpointError, match="unknown checkpoint format '.h5'"):
        load_checkpoint(create_model("resnet20"), tmp_path / "weights.h5")
    (tmp_path / "broken.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read .* as safetensors"):
        load_checkpoint(create_model("resnet20"), tmp_path / "broken.safetensors")
    torch.save({"epoch": torch.tensor(3), "lr": 0.1}, tmp_path / "no_state.pt")
    with pytest.raises(CheckpointError, match="holds no state dict"):
        load_checkpoint(create_model("resnet20"), tmp_path / "no_state.pt")
