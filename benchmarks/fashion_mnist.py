"""Train small zoo models on Fashion-MNIST (real data, installed offline, see DATA.md) for accuracy benchmarks.

    apt-get install -y dataset-fashion-mnist
    python benchmarks/fashion_mnist.py --out out/fmnist --epochs 2

writes ``<name>.safetensors`` checkpoints and prints test-set top-1. The training data goes through the
same edgeres preprocessing (IDX reader, model input recipe) that calibration and evaluation use later,
so the exported bundles see exactly what the networks were trained on.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from edgeres.models import create_model, default_input_spec
from edgeres.optimize.calibration import InputRecipe, load_dataset

DATA = Path("/usr/share/datasets/fashion-mnist")
# name -> (registry model, overrides, input shape)
MODELS = {
    "resnet20": ("resnet20", {"in_chans": 1, "num_classes": 10}, (1, 28, 28)),
    "mobilenet_v2_w05": ("mobilenet_v2", {"in_chans": 1, "num_classes": 10, "width_mult": 0.5}, (1, 32, 32)),
}


def recipe_for(name: str) -> InputRecipe:
    registry, overrides, shape = MODELS[name]
    spec = default_input_spec(registry, in_chans=overrides["in_chans"])
    return InputRecipe(shape, spec.mean, spec.std, spec.scale, 1.0)


def train(name: str, epochs: int, out: Path, limit: int | None = None, threads: int = 2) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    registry, overrides, _ = MODELS[name]
    model = create_model(registry, **overrides)
    recipe = recipe_for(name)
    train_set = load_dataset(DATA / "train-images-idx3-ubyte.gz", recipe, limit=limit)
    test_set = load_dataset(DATA / "t10k-images-idx3-ubyte.gz", recipe)
    x, y = torch.from_numpy(train_set.inputs), torch.from_numpy(train_set.labels)
    batch = 128
    steps = epochs * ((len(x) + batch - 1) // batch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=steps, pct_start=0.25)
    started = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            inputs = x[index]
            if torch.rand(()) < 0.5:  # horizontal flip, the one augmentation that fits clothing
                inputs = inputs.flip(3)
            loss = nn.functional.cross_entropy(model(inputs), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        accuracy = evaluate(model, test_set)
        print(f"{name} epoch {epoch + 1}/{epochs}: test top-1 {accuracy:.2f}% ({time.time() - started:.0f} s)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / f"{name}.safetensors"))
    return accuracy


def evaluate(model: nn.Module, data) -> float:  # noqa: ANN001
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), 500):
            logits = model(torch.from_numpy(data.inputs[start:start + 500]))
            correct += int((logits.argmax(1).numpy() == data.labels[start:start + 500]).sum())
    return 100.0 * correct / len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/fmnist"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, help="train on the first N images only")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is missing: apt-get install -y dataset-fashion-mnist")
    for name in args.models:
        train(name, args.epochs, args.out, args.limit)


if __name__ == "__main__":
    main()
