"""An app that embeds an edgeres bundle: classify images with ``edgeres.runtime`` only (no PyTorch).

    python examples/classify.py out/mbv2-int8 photo.jpg [more.jpg ...] [--artifact model.int8.onnx]

The bundle's manifest says how to preprocess (size, mean, std, crop); the runtime checks the
artifact's sha256 before loading it, and refuses a file that changed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edgeres import runtime
from edgeres.preprocess import preprocess_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--artifact", help="default: the INT8 CPU artifact if the bundle has one, else FP32")
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    manifest = json.loads((args.bundle / "edgeres.json").read_text())
    pre = manifest["preprocessing"]
    height, width = pre["center_crop"]
    with runtime.load(args.bundle, args.artifact) as session:
        static_batch = session.inputs[0].shape[0]
        for image in args.images:
            x = preprocess_image(image, (height, width), pre["mean"], pre["std"], scale=pre["scale"],
                                 crop_fraction=height / pre["resize_shorter"])[None]
            if isinstance(static_batch, int) and static_batch > 1:
                x = np.repeat(x, static_batch, axis=0)
            logits = next(iter(session.run(x).values()))[0]
            probabilities = np.exp(logits - logits.max())
            probabilities /= probabilities.sum()
            best = np.argsort(-probabilities)[: args.top]
            print(f"{image}: " + ", ".join(f"class {i} ({probabilities[i]:.1%})" for i in best))


if __name__ == "__main__":
    main()
