"""Write torchvision_reference.json: the real torchvision state-dict keys and shapes of the zoo's models.

torchvision cannot be installed beside the CPU torch that edgeres tests with, so its key lists are
recorded once here, from a real torchvision, and the tests compare edgeres' models against them.
Run in an environment with torchvision (recorded with torch 2.14.1, torchvision 0.29.1):

    python tests/data/make_torchvision_reference.py
"""

import json
from pathlib import Path

import torch
import torchvision

NAMES = [
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
    "wide_resnet50_2", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small",
]


def main() -> None:
    reference = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
    for name in NAMES:
        model = torchvision.models.get_model(name, weights=None)
        reference["models"][name] = {
            "params": sum(p.numel() for p in model.parameters()),
            "state_dict": {key: list(value.shape) for key, value in model.state_dict().items()},
        }
    out = Path(__file__).with_name("torchvision_reference.json")
    out.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
