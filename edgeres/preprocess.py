"""Image preprocessing with numpy and Pillow only: what an app does before ``session.run``.

The steps are the ImageNet evaluation transform (resize the shorter side, center crop, scale to
[0, 1], normalize by mean and std, HWC to CHW), parameterized by the model's input spec as recorded in
a bundle, so an app preprocesses exactly as the model was exported and validated. No torch here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# The ImageNet evaluation convention: resize to 256 for a 224 crop.
CROP_FRACTION = 224 / 256


def preprocess_image(
    image: np.ndarray | str | Path,
    size: tuple[int, int],
    mean: Sequence[float],
    std: Sequence[float],
    *,
    scale: float = 1.0 / 255.0,
    crop_fraction: float = CROP_FRACTION,
) -> np.ndarray:
    """Turn an image into a normalized ``(C, H, W)`` float32 array.

    Args:
        image: An 8-bit ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array, or an image file path.
        size: Output ``(height, width)``.
        mean: Per-channel mean, after scaling.
        std: Per-channel standard deviation, after scaling.
        scale: Factor from pixel values to [0, 1].
        crop_fraction: The center crop's share of the resized image (1.0: resize straight to size).

    Returns:
        The preprocessed image; 1 channel when ``mean`` has one value, else 3 (RGB).
    """
    from PIL import Image

    channels = len(mean)
    if isinstance(image, (str, Path)):
        with Image.open(image) as opened:
            pil = opened.convert("L" if channels == 1 else "RGB")
    else:
        array = np.asarray(image)
        if array.dtype != np.uint8:
            array = np.clip(array, 0, 255).astype(np.uint8)
        pil = Image.fromarray(array).convert("L" if channels == 1 else "RGB")
    height, width = size
    resize_h, resize_w = round(height / crop_fraction), round(width / crop_fraction)
    # Resize the shorter side, keep the aspect ratio, then crop the center.
    ratio = max(resize_h / pil.height, resize_w / pil.width)
    resized = pil.resize((max(width, round(pil.width * ratio)), max(height, round(pil.height * ratio))), Image.BILINEAR)
    left, top = (resized.width - width) // 2, (resized.height - height) // 2
    cropped = np.asarray(resized.crop((left, top, left + width, top + height)), dtype=np.float32)
    if cropped.ndim == 2:
        cropped = cropped[:, :, None]
    normalized = (cropped * scale - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalized.transpose(2, 0, 1), dtype=np.float32)
