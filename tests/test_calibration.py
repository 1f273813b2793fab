"""Calibration and evaluation data readers, on real data formats."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeres.errors import ConfigError
from edgeres.optimize.calibration import MIN_CALIBRATION_SAMPLES, InputRecipe, load_dataset, read_idx
from edgeres.preprocess import preprocess_image

RGB = InputRecipe((3, 32, 32), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
GRAY = InputRecipe((1, 28, 28), (0.5,), (0.5,), crop_fraction=1.0)


def write_idx(path: Path, array: np.ndarray) -> None:
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def test_image_folder_with_integer_class_folders(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in (3, 7):
        (tmp_path / str(label)).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(tmp_path / str(label) / f"{i}.png")
    data = load_dataset(tmp_path, RGB)
    assert data.inputs.shape == (8, 3, 32, 32) and data.inputs.dtype == np.float32
    assert data.labels.tolist() == [3] * 4 + [7] * 4
    first = preprocess_image(tmp_path / "3" / "0.png", (32, 32), RGB.mean, RGB.std)
    np.testing.assert_array_equal(data.inputs[0], first)
    assert load_dataset(tmp_path, RGB).sha256 == data.sha256  # stable
    assert load_dataset(tmp_path, RGB, limit=3).inputs.shape[0] == 3


def test_flat_image_folder_has_no_labels(tmp_path: Path) -> None:
    for i in range(2):
        Image.fromarray(np.full((20, 20), 40 * i, np.uint8)).save(tmp_path / f"{i}.jpg")
    data = load_dataset(tmp_path, GRAY)
    assert data.labels is None and data.inputs.shape == (2, 1, 28, 28)
    assert data.inputs[0].max() == pytest.approx((0 - 0.5) / 0.5)


def test_npy_and_npz(tmp_path: Path) -> None:
    floats = np.random.default_rng(0).standard_normal((40, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "x.npy", floats)
    np.testing.assert_array_equal(load_dataset(tmp_path / "x.npy", RGB).inputs, floats)
    images = np.random.default_rng(1).integers(0, 255, (40, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=images, labels=np.arange(40) % 10)
    data = load_dataset(tmp_path / "d.npz", GRAY)
    assert data.inputs.shape == (40, 1, 28, 28) and data.labels[:3].tolist() == [0, 1, 2]
    np.testing.assert_allclose(data.inputs[5, 0], (images[5] / 255.0 - 0.5) / 0.5, atol=1e-6)
    np.save(tmp_path / "wrong.npy", np.zeros((4, 3, 16, 16), np.float32))
    with pytest.raises(ConfigError, match=r"holds arrays of shape \(3, 16, 16\), the model takes \(3, 32, 32\)"):
        load_dataset(tmp_path / "wrong.npy", RGB)


def test_idx_images_and_labels(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 255, (50, 28, 28), dtype=np.uint8)
    labels = (np.arange(50) % 10).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "train-images-idx3-ubyte.gz"), images)
    data = load_dataset(tmp_path / "train-images-idx3-ubyte.gz", GRAY)
    assert data.labels.tolist() == labels.tolist()
    np.testing.assert_allclose(data.inputs[0, 0], (images[0] / 255.0 - 0.5) / 0.5, atol=1e-6)
    (tmp_path / "bad-idx3").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ConfigError, match="not an IDX file"):
        read_idx(tmp_path / "bad-idx3")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="apt package dataset-fashion-mnist not installed")
def test_real_fashion_mnist_idx() -> None:
    data = load_dataset("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", GRAY, limit=100)
    assert data.inputs.shape == (100, 1, 28, 28) and set(data.labels.tolist()) <= set(range(10))


def test_too_small_empty_and_missing_sets(tmp_path: Path) -> None:
    np.save(tmp_path / "few.npy", np.zeros((5, 3, 32, 32), np.float32))
    with pytest.raises(ConfigError, match=f"has 5 samples; calibration needs at least {MIN_CALIBRATION_SAMPLES}.*--force-small-calib"):
        load_dataset(tmp_path / "few.npy", RGB, min_samples=MIN_CALIBRATION_SAMPLES)
    assert len(load_dataset(tmp_path / "few.npy", RGB, min_samples=1)) == 5
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no images .* found in"):
        load_dataset(tmp_path / "empty", RGB)
    np.save(tmp_path / "none.npy", np.zeros((0, 3, 32, 32), np.float32))
    with pytest.raises(ConfigError, match="holds no samples"):
        load_dataset(tmp_path / "none.npy", RGB)
    with pytest.raises(ConfigError, match="does not exist"):
        load_dataset(tmp_path / "nothing", RGB)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="cannot read"):
        load_dataset(tmp_path / "notes.txt", RGB)


def test_random_is_marked() -> None:
    data = load_dataset("random", RGB, limit=8)
    assert data.random and data.labels is None and data.inputs.shape == (8, 3, 32, 32)
    assert data.describe()["random"] is True
