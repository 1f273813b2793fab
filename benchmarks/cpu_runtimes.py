"""edgeres' best CPU artifact against what users run today, side by side in one run.

    python benchmarks/cpu_runtimes.py [--models resnet18 resnet50 mobilenet_v2 mobilenet_v3_large] [--batches 1 8]

Per model and batch size, interleaved: PyTorch eager, torch.compile, ONNX Runtime with default settings
on a plain ``torch.onnx.export`` (torch's defaults), OpenVINO with default settings on the same file,
and edgeres' artifacts (FP32 and the INT8 CPU artifact, calibrated on real photo crops). 2 threads
everywhere. MobileNetV2 uses torchvision's ImageNet weights, so its INT8 accuracy is real; the others
are random-init (no offline ImageNet weights exist for them) and their accuracy column says so.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from interleave import interleaved, ratio_table  # noqa: E402
from photos import make_photo_crops  # noqa: E402
from quantization import weights_for  # noqa: E402

from edgeres.export import ExportConfig, export_onnx, load_source  # noqa: E402
from edgeres.optimize import OptimizeConfig  # noqa: E402
from edgeres.optimize.ort import optimize_bundle  # noqa: E402
from edgeres.runtime.ort import OrtSession  # noqa: E402


def plain_export(model: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    """What a user types: torch.onnx.export with its defaults (the dynamo exporter in torch 2.9+)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--calls", type=int, default=4)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (8-33 s of compilation per model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="edgeres-cpu-"))
    crops = work / "crops"
    make_photo_crops(crops, per_photo=12)
    has_openvino = importlib.util.find_spec("openvino") is not None
    for name in args.models:
        weights = weights_for(name)
        source = load_source(name, weights=weights)
        model = source.model.eval()
        bundle = work / name
        export_onnx(source, ExportConfig(output=bundle, dynamic_batch=True))
        int8 = optimize_bundle(bundle, OptimizeConfig(precision="int8", calib=str(crops), eval=str(crops)))
        accuracy = f"agreement {int8.accuracy.agreement:.1f}% on photo crops" + ("" if weights else " (random weights)")
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224)
            feeds = {"input": x.numpy()}
            plain = work / f"{name}-b{batch}-plain.onnx"
            started = time.perf_counter()
            plain_export(model, x, plain)
            export_s = time.perf_counter() - started
            import onnxruntime as ort

            ort_default = ort.InferenceSession(str(plain), providers=["CPUExecutionProvider"])
            ort_input = ort_default.get_inputs()[0].name
            variants = {
                "pytorch eager": lambda: model(x),
                "ort default (plain export)": lambda: ort_default.run(None, {ort_input: x.numpy()}),
            }
            notes = {"ort default (plain export)": f"torch.onnx.export defaults, {export_s:.1f} s"}
            if has_openvino:
                import openvino as ov

                compiled = ov.Core().compile_model(str(plain), "CPU", {"INFERENCE_NUM_THREADS": args.threads})
                request = compiled.create_infer_request()
                variants["openvino default (plain export)"] = lambda: request.infer({0: x.numpy()})
            if not args.no_compile:
                started = time.perf_counter()
                compiled_model = torch.compile(model)
                with torch.inference_mode():
                    compiled_model(x)
                notes["torch.compile"] = f"compiled in {time.perf_counter() - started:.0f} s"
                variants["torch.compile"] = lambda: compiled_model(x)
            fp32 = OrtSession(bundle / "model.onnx", threads=args.threads)
            quant = OrtSession(bundle / int8.artifact, threads=args.threads)
            variants["edgeres fp32 (ort)"] = lambda: fp32._run(feeds)
            variants["edgeres int8 cpu (ort)"] = lambda: quant._run(feeds)
            notes["edgeres int8 cpu (ort)"] = accuracy
            with torch.inference_mode():
                results = interleaved(variants, rounds=args.rounds, calls=args.calls, warmup=2)
            print(f"\n### {name}, batch {batch}, {args.threads} threads\n")
            print(ratio_table(results, "pytorch eager", notes), flush=True)


if __name__ == "__main__":
    main()
