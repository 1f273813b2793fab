"""INT8 accuracy on real data: Fashion-MNIST models (trained by fashion_mnist.py), FP32 vs INT8 test-set top-1.

    python benchmarks/fashion_mnist.py --out out/fmnist --epochs 3     # once, a few minutes per model
    python benchmarks/fashion_int8.py --checkpoints out/fmnist

Each model is exported to a bundle, quantized by edgeres for the CPU (calibration: 512 training images)
and for TensorRT (symmetric s8/s8), and evaluated on all 10,000 test images.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fashion_mnist import DATA, MODELS  # noqa: E402

from edgeres.export import ExportConfig, export_onnx, load_source  # noqa: E402
from edgeres.optimize import OptimizeConfig  # noqa: E402
from edgeres.optimize.ort import optimize_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, default=Path("out/fmnist"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgeres-fmnist-"))
    print("| model | FP32 top-1 | INT8 (cpu, u8/s8) top-1 | drop | INT8 (tensorrt, s8/s8) top-1 | drop | agreement (cpu) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, (registry, overrides, shape) in MODELS.items():
        checkpoint = args.checkpoints / f"{name}.safetensors"
        if not checkpoint.is_file():
            print(f"| {name} | missing {checkpoint}: run fashion_mnist.py first | | | | | |")
            continue
        source = load_source(registry, weights=checkpoint, input_shape=shape, **overrides)
        bundle = work / name
        export_onnx(source, ExportConfig(output=bundle, input_shape=shape, dynamic_batch=True))
        calib, test = DATA / "train-images-idx3-ubyte.gz", DATA / "t10k-images-idx3-ubyte.gz"
        cpu = optimize_bundle(bundle, OptimizeConfig(precision="int8", target="cpu", calib=str(calib), eval=str(test), eval_limit=10000))
        trt = optimize_bundle(bundle, OptimizeConfig(precision="int8", target="tensorrt", calib=str(calib), eval=str(test), eval_limit=10000))
        a, b = cpu.accuracy, trt.accuracy
        print(f"| {name} | {a.fp32_top1:.2f}% | {a.top1:.2f}% | {a.top1_drop:+.2f} | {b.top1:.2f}% | {b.top1_drop:+.2f} | {a.agreement:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
