"""Validate the latency estimator: on this CPU against measurements, and on paper against published Jetson figures.

    python benchmarks/estimator.py [--threads 2]

CPU: calibrate on micro-benchmarks only, then predict zoo models and variants never used in the fit
(several widths and depths, MobileNetV3) in FP32 and INT8, and measure the same artifacts in the same
run with edgeres' harness. Reports the share of predictions within +-10% and +-20% per family and
precision. Jetson: the catalog-only estimate against TensorRT FP16 latencies published by NVIDIA's
torch2trt (batch 1, 224x224): benchmarks/JETSON_NANO.md and docs/benchmarks/jetson_xavier.md in
github.com/NVIDIA-AI-IOT/torch2trt (ResNet-18/34/50/101/152, latency column, ms).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from edgeres import runtime
from edgeres.export import ExportConfig, export_onnx, load_source
from edgeres.optimize import OptimizeConfig
from edgeres.optimize.ort import optimize_bundle
from edgeres.precision import Precision
from edgeres.profile.calibrate import calibrate_cpu
from edgeres.profile.estimate import estimate_latency
from edgeres.profile.latency import ProfileConfig, profile_session

# (registry name, overrides, family label)
CPU_MODELS = [
    ("resnet18", {}, "resnet"), ("resnet34", {}, "resnet"), ("resnet50", {}, "resnet"), ("resnext50_32x4d", {}, "resnet"),
    ("plain_resnet18", {}, "resnet"),
    ("mobilenet_v2", {}, "mobilenet"), ("mobilenet_v2", {"width_mult": 0.5}, "mobilenet"), ("mobilenet_v2", {"width_mult": 1.4}, "mobilenet"),
    ("mobilenet_v3_large", {}, "mobilenet"), ("mobilenet_v3_small", {}, "mobilenet"),
    ("resnet56", {}, "cifar_resnet"), ("resnet110", {}, "cifar_resnet"),
]
# torch2trt TensorRT FP16 latency (ms), batch 1, 224x224.
PUBLISHED = {
    "jetson-nano": {"resnet18": 11.4, "resnet34": 20.2, "resnet50": 29.8, "resnet101": 51.1, "resnet152": 72.3},
    "jetson-agx-xavier": {"resnet18": 1.64, "resnet34": 2.79, "resnet50": 3.37, "resnet101": 6.04, "resnet152": 8.57},
}


def share(errors: list[float], bound: float) -> str:
    return f"{100 * sum(abs(e) <= bound for e in errors) / len(errors):.0f}%" if errors else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgeres-est-"))
    os.environ.setdefault("EDGERES_CACHE", str(work / "cache"))
    calibration = calibrate_cpu(args.threads)
    print(f"calibrated on {len(calibration.points)} micro-benchmarks ({args.threads} threads)\n")
    print("| model | precision | estimated ms | measured p50 ms | error |")
    print("| --- | --- | ---: | ---: | ---: |")
    errors: dict[tuple[str, str], list[float]] = {}
    for name, overrides, family in CPU_MODELS:
        label = name + "".join(f" {k}={v}" for k, v in overrides.items())
        bundle = work / label.replace(" ", "_").replace("=", "")
        export_onnx(load_source(name, **overrides), ExportConfig(output=bundle))
        optimize_bundle(bundle, OptimizeConfig(precision="int8", calib="random", calib_limit=16, allow_small_calib=True))
        for precision, artifact in (("fp32", "model.onnx"), ("int8", "model.int8.onnx")):
            estimate = estimate_latency(bundle, "cpu", precision, throughput=calibration.throughput(Precision.parse(precision)))
            with runtime.load(bundle, artifact, threads=args.threads) as session:
                (measured,) = profile_session(session, ProfileConfig(iters=args.iters))
            error = estimate.latency_ms["value"] / measured.latency_ms["p50"] - 1
            errors.setdefault((family, precision), []).append(error)
            flag = "" if measured.stable else " (noisy)"
            print(f"| {label} | {precision} | {estimate.latency_ms['value']:.2f} | {measured.latency_ms['p50']:.2f}{flag} | {error:+.0%} |", flush=True)
    print("\n| family | precision | models | within +-10% | within +-20% |\n| --- | --- | ---: | ---: | ---: |")
    for (family, precision), values in errors.items():
        print(f"| {family} | {precision} | {len(values)} | {share(values, 0.10)} | {share(values, 0.20)} |")
    everything = [e for values in errors.values() for e in values]
    print(f"| all | all | {len(everything)} | {share(everything, 0.10)} | {share(everything, 0.20)} |")

    print("\nJetson, on paper (TensorRT FP16, batch 1; published: torch2trt benchmark tables)\n")
    print("| device | model | estimated ms (band) | published ms | estimate / published |\n| --- | --- | ---: | ---: | ---: |")
    for device, models in PUBLISHED.items():
        for name, published in models.items():
            bundle = work / f"paper-{name}"
            if not bundle.exists():
                export_onnx(load_source(name), ExportConfig(output=bundle))
            estimate = estimate_latency(bundle, device, "fp16")
            value = estimate.latency_ms
            print(f"| {device} | {name} | {value['value']:.2f} ({value['low']:.2f}-{value['high']:.2f}) | {published} | {value['value'] / published:.2f} |", flush=True)


if __name__ == "__main__":
    main()
