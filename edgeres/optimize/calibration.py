"""Calibration and evaluation data: image folders, ``.npy``/``.npz`` arrays, IDX files (MNIST family).

Every reader turns its source into one :class:`Dataset`: preprocessed float32 inputs in the model's
layout, labels when the source has them, and a sha256 of exactly what was used, which the manifest
records. Images are preprocessed with the bundle's own recipe (size, mean, std, crop), so calibration
sees what the deployed model will see. Random data is only ever used when asked for by name.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeres.errors import ConfigError
from edgeres.preprocess import CROP_FRACTION, preprocess_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
# Fewer samples than this give unstable activation ranges (one odd image moves a whole tensor's
# scale); edgeres refuses such a set unless told otherwise.
MIN_CALIBRATION_SAMPLES = 32
RANDOM_SAMPLES = 64


@dataclass(frozen=True)
class InputRecipe:
    """How to turn raw images into model inputs: the bundle's input and preprocessing sections."""

    shape: tuple[int, int, int]
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    scale: float = 1.0 / 255.0
    crop_fraction: float = CROP_FRACTION

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> InputRecipe:
        """Read the recipe from a bundle manifest (``inputs[0]`` and ``preprocessing``)."""
        spec = manifest["inputs"][0]
        shape = tuple(spec["example_shape"])
        pre = manifest.get("preprocessing")
        if not pre:
            channels = shape[0]
            return cls(shape, (0.0,) * channels, (1.0,) * channels, 1.0 / 255.0, 1.0)
        crop = pre["center_crop"][0] / pre["resize_shorter"] if pre.get("resize_shorter") else 1.0
        return cls(shape, tuple(pre["mean"]), tuple(pre["std"]), pre["scale"], crop)


@dataclass(frozen=True)
class Dataset:
    """Preprocessed samples, with labels when known.

    Attributes:
        inputs: ``(N, C, H, W)`` float32.
        labels: ``(N,)`` class indices, or ``None``.
        source: What the samples came from (path or ``random``).
        sha256: Hash of the preprocessed inputs and labels.
        random: Whether the samples are random noise.
    """

    inputs: np.ndarray
    labels: np.ndarray | None
    source: str
    sha256: str
    random: bool = False

    def __len__(self) -> int:
        return len(self.inputs)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for the manifest."""
        return {"source": self.source, "samples": len(self), "sha256": self.sha256, "labelled": self.labels is not None,
                "random": self.random}

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """The inputs in consecutive batches (the last may be smaller)."""
        for start in range(0, len(self.inputs), batch_size):
            yield self.inputs[start:start + batch_size]

    def subset(self, count: int) -> Dataset:
        """The first ``count`` samples."""
        if count >= len(self):
            return self
        labels = None if self.labels is None else self.labels[:count]
        return _dataset(self.inputs[:count], labels, f"{self.source} (first {count})", self.random)


def load_dataset(
    spec: str | Path,
    recipe: InputRecipe,
    *,
    limit: int | None = None,
    min_samples: int = 1,
    seed: int = 0,
) -> Dataset:
    """Load calibration or evaluation data.

    Args:
        spec: ``random``; a folder of images (optionally in sub-folders named by integer class index,
            which become labels); a ``.npy`` or ``.npz`` file (float arrays already preprocessed, or uint8
            images; an ``.npz`` may hold labels under ``y`` or ``labels``); or an IDX images file
            (``*-images-idx3-ubyte[.gz]``) whose labels file beside it is read too.
        recipe: The model's input shape and preprocessing.
        limit: Use at most this many samples (the first ones, in a stable order).
        min_samples: Refuse a set with fewer samples.
        seed: Seed for ``random``.

    Raises:
        ConfigError: Missing or empty source, unreadable files, shapes that do not fit the model, or too
            few samples; each says what to do.
    """
    if str(spec) == "random":
        count = limit or RANDOM_SAMPLES
        inputs = np.random.default_rng(seed).standard_normal((count, *recipe.shape), dtype=np.float32)
        return _dataset(inputs, None, "random", True)
    path = Path(spec)
    if not path.exists():
        raise ConfigError(f"calibration/evaluation data {path} does not exist; give a folder of images, .npy/.npz, an IDX file, or 'random'")
    if path.is_dir():
        inputs, labels = _read_image_folder(path, recipe, limit)
    elif path.suffix == ".npy" or path.suffix == ".npz":
        inputs, labels = _read_arrays(path, recipe)
    elif "idx" in path.name:
        inputs, labels = _read_idx(path, recipe)
    else:
        raise ConfigError(f"cannot read {path}: use a folder of images, a .npy/.npz file, or an IDX file (MNIST format)")
    if limit is not None:
        inputs = inputs[:limit]
        labels = None if labels is None else labels[:limit]
    if len(inputs) == 0:
        raise ConfigError(f"{path} holds no samples")
    if len(inputs) < min_samples:
        raise ConfigError(
            f"{path} has {len(inputs)} samples; calibration needs at least {min_samples} for stable ranges. "
            "Give more data, or pass --force-small-calib to use it anyway"
        )
    return _dataset(inputs, labels, str(path), False)


def _dataset(inputs: np.ndarray, labels: np.ndarray | None, source: str, random: bool) -> Dataset:
    inputs = np.ascontiguousarray(inputs, dtype=np.float32)
    digest = hashlib.sha256(inputs.tobytes())
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        digest.update(labels.tobytes())
    return Dataset(inputs, labels, source, digest.hexdigest(), random)


def _preprocess_many(images: Sequence[np.ndarray] | Sequence[Path], recipe: InputRecipe, crop_fraction: float) -> np.ndarray:
    channels, height, width = recipe.shape
    mean, std = _per_channel(recipe.mean, channels), _per_channel(recipe.std, channels)
    return np.stack([
        preprocess_image(image, (height, width), mean, std, scale=recipe.scale, crop_fraction=crop_fraction)
        for image in images
    ])


def _per_channel(values: tuple[float, ...], channels: int) -> tuple[float, ...]:
    if len(values) == channels:
        return values
    if len(values) == 1:
        return values * channels
    if channels == 1:
        return (float(np.mean(values)),)
    raise ConfigError(f"preprocessing has {len(values)} mean/std values for a {channels}-channel input")


def _read_image_folder(path: Path, recipe: InputRecipe, limit: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found in {path}")
    if limit is not None:
        files = files[:limit]
    parents = {p.parent for p in files}
    labels = None
    if parents != {path} and all(p.parent != path and p.parent.name.isdigit() for p in files):
        labels = np.array([int(p.parent.name) for p in files])
    try:
        return _preprocess_many(files, recipe, recipe.crop_fraction), labels
    except OSError as exc:
        raise ConfigError(f"cannot read an image in {path}: {exc}") from exc


def _read_arrays(path: Path, recipe: InputRecipe) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path} as a numpy file: {exc}") from exc
    labels = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            input_key = next((k for k in ("x", "inputs", "images", "input", "data") if k in keys), keys[0] if keys else None)
            if input_key is None:
                raise ConfigError(f"{path} is an empty .npz")
            array = loaded[input_key]
            label_key = next((k for k in ("y", "labels", "targets") if k in keys), None)
            labels = loaded[label_key] if label_key else None
    else:
        array = loaded
    return _fit_array(array, recipe, path), labels


def _fit_array(array: np.ndarray, recipe: InputRecipe, path: Path) -> np.ndarray:
    if array.dtype == np.uint8:  # raw images: (N, H, W) or (N, H, W, C)
        return _preprocess_many(list(array), recipe, 1.0)
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == len(recipe.shape):
        array = array[None]
    if array.shape[1:] != recipe.shape:
        raise ConfigError(
            f"{path} holds arrays of shape {array.shape[1:]}, the model takes {recipe.shape}; save preprocessed "
            "float arrays (N, C, H, W) or uint8 images (N, H, W[, C])"
        )
    return array


def _read_idx(path: Path, recipe: InputRecipe) -> tuple[np.ndarray, np.ndarray | None]:
    images = read_idx(path)
    if images.ndim != 3:
        raise ConfigError(f"{path} is not an IDX image file (expected 3 dimensions, got {images.ndim})")
    labels_path = Path(str(path).replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1"))
    labels = read_idx(labels_path) if labels_path != path and labels_path.exists() else None
    if labels is not None and len(labels) != len(images):
        raise ConfigError(f"{labels_path} has {len(labels)} labels for {len(images)} images")
    return _preprocess_many(list(images), recipe, 1.0), labels


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not.

    Raises:
        ConfigError: Not an IDX file, or truncated.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ConfigError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    body = data[4 + 4 * ndim:]
    if len(body) < expected:
        raise ConfigError(f"{path} is truncated: {len(body)} bytes of data, {expected} expected")
    return np.frombuffer(body[:expected], dtype=dtype).reshape(dims)
