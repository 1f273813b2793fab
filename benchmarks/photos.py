"""Real photos for ImageNet models, from what scikit-image and scikit-learn ship (no downloads).

``make_photo_crops(folder, per_photo)`` writes random crops of each photo as JPEG files: a small but
real calibration and evaluation set for ImageNet classifiers (DATA.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "motorcycle_left", "immunohistochemistry", "hubble_deep_field",
          "cat", "camera", "page", "brick", "grass", "gravel", "colorwheel", "retina", "skin", "eagle", "logo")


def load_photos() -> dict[str, np.ndarray]:
    """The RGB photos that scikit-image and scikit-learn ship, by name."""
    import skimage.data as data
    from sklearn.datasets import load_sample_images

    photos = {}
    for name in PHOTOS:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            image = loader()
        except Exception:  # noqa: BLE001  (some need pooch downloads in newer releases)
            continue
        if isinstance(image, tuple):
            image = image[0]
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        if image.dtype != np.uint8 or image.shape[-1] != 3 or min(image.shape[:2]) < 128:
            continue
        photos[name] = image
    sample = load_sample_images()
    for name, image in zip(("china", "flower"), sample.images):
        photos[name] = image
    return photos


def make_photo_crops(folder: str | Path, per_photo: int = 8, seed: int = 0) -> list[Path]:
    """Write ``per_photo`` random square crops (40-100% of the shorter side) of every photo as JPEGs."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for name, image in sorted(load_photos().items()):
        height, width = image.shape[:2]
        for index in range(per_photo):
            side = int(min(height, width) * rng.uniform(0.4, 1.0))
            top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
            path = folder / f"{name}_{index:02d}.jpg"
            Image.fromarray(image[top:top + side, left:left + side]).save(path, quality=92)
            paths.append(path)
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write random crops of the real photos scikit-image and scikit-learn ship.")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--per-photo", type=int, default=12)
    args = parser.parse_args()
    print(f"wrote {len(make_photo_crops(args.folder, args.per_photo))} crops to {args.folder}")
