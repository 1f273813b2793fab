"""The ONNX Runtime backend of the optimize stage: FP16 graphs and INT8 QDQ quantization.

Precision lives in the ONNX file: FP16 as an FP16 graph with FP32 inputs and outputs, INT8 as explicit
QuantizeLinear/DequantizeLinear pairs with per-channel weight scales. ONNX Runtime's own tools do the
work (``quant_pre_process``, ``quantize_static`` with its calibrators, the float16 converter); edgeres
chooses their settings by target and measures what they cost in accuracy.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgeres.bundle import Bundle
from edgeres.devices.host import library_versions
from edgeres.errors import BundleError, ConfigError, VerificationError
from edgeres.export.verify import check_graph
from edgeres.optimize.accuracy import AccuracyReport, compare_accuracy, run_outputs
from edgeres.optimize.calibration import MIN_CALIBRATION_SAMPLES, Dataset, InputRecipe, load_dataset
from edgeres.optimize.config import OptimizeConfig, QuantConfig, Target
from edgeres.precision import Precision

REFERENCE = "model.onnx"
SENSITIVITY_SAMPLES = 32
DYNAMIC_CHUNK = 32


@dataclass(frozen=True)
class FloatLayer:
    """A layer kept in float by the accuracy-aware fallback, and why."""

    name: str
    sensitivity: float
    reason: str


@dataclass(frozen=True)
class OptimizeReport:
    """What the optimize stage made and what it costs in accuracy.

    Attributes:
        artifact: File name inside the bundle.
        precision: The artifact's precision.
        target: ``cpu`` or ``tensorrt``.
        record: The manifest record (settings, sha256, tools).
        accuracy: Measured against FP32; ``None`` when unknown (random calibration, no evaluation data).
        float_layers: Layers the fallback kept in float.
        fallback_steps: ``(layers in float, measured drop)`` for each fallback step.
        seconds: Wall time.
        warnings: Things the user must know (random calibration, evaluation on calibration data).
    """

    artifact: str
    precision: Precision
    target: Target
    record: dict[str, Any]
    accuracy: AccuracyReport | None
    float_layers: tuple[FloatLayer, ...] = ()
    fallback_steps: tuple[tuple[int, float], ...] = ()
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "artifact": self.artifact, "precision": self.precision.value, "target": self.target.value,
            "sha256": self.record["sha256"], "accuracy": None if self.accuracy is None else self.accuracy.to_dict(),
            "float_layers": [vars(layer) for layer in self.float_layers],
            "fallback_steps": [list(step) for step in self.fallback_steps], "seconds": round(self.seconds, 2),
            "settings": self.record.get("quantization") or self.record.get("conversion"), "warnings": list(self.warnings),
        }


def artifact_name(precision: Precision, target: Target) -> str:
    """``model.fp16.onnx``, ``model.int8.onnx`` (CPU) or ``model.int8.trt.onnx`` (TensorRT's QDQ form)."""
    suffix = ".trt" if target is Target.TENSORRT and precision is Precision.INT8 else ""
    return f"model.{precision.value}{suffix}.onnx"


def optimize_bundle(
    bundle_dir: str | Path, config: OptimizeConfig, *, on_stage: Callable[[str], None] | None = None
) -> OptimizeReport:
    """Add an FP16 or INT8 artifact to a bundle, with its accuracy measured against FP32.

    Args:
        bundle_dir: A bundle made by ``edgeres export``.
        config: What to make.
        on_stage: Called with a short description as each stage starts.

    Returns:
        The report; the artifact and its record are in the bundle.

    Raises:
        BundleError: Not a bundle, a modified ``model.onnx``, or an existing artifact without ``force``.
        ConfigError: Bad settings or data.
        VerificationError: The artifact fails the checks, or the accuracy budget cannot be met; nothing
            is written then.
    """
    stage = on_stage or (lambda _: None)
    started = time.perf_counter()
    bundle = Bundle.open(bundle_dir)
    name = artifact_name(config.precision, config.target)
    if name in bundle.artifacts and not config.force:
        raise BundleError(f"bundle {bundle.root} already has {name}; pass --force to replace it")
    reference = bundle.verified_path(REFERENCE)
    recipe = InputRecipe.from_manifest(bundle.manifest)
    batch_size, static_batch = _batch_size(bundle.manifest)
    notes: list[str] = []

    calib = None
    if config.precision is Precision.INT8:
        stage("reading calibration data")
        calib = load_dataset(
            config.calib, recipe, limit=config.calib_limit,
            min_samples=1 if config.allow_small_calib else MIN_CALIBRATION_SAMPLES,
        )
        if calib.random:
            notes.append("calibrated on RANDOM data: activation ranges do not reflect real inputs and the "
                         "accuracy is UNKNOWN; calibrate on real images before deploying")
    evaluation = None
    if config.eval:
        stage("reading evaluation data")
        evaluation = load_dataset(config.eval, recipe, limit=config.eval_limit)
    elif calib is not None and not calib.random:
        evaluation = calib
        notes.append("no --eval data: accuracy was measured on the calibration set itself, which flatters it")
    elif config.precision is Precision.FP16:
        evaluation = load_dataset("random", recipe, limit=64)
        notes.append("no --eval data: FP16 was compared with FP32 on random inputs (agreement and cosine only)")
    if config.max_accuracy_drop is not None and evaluation is None:
        raise ConfigError("--max-accuracy-drop needs real data to measure the drop: give --eval DATA (or real --calib)")

    reference_outputs = None
    if evaluation is not None:
        stage(f"running FP32 on {len(evaluation)} evaluation samples")
        reference_outputs = run_outputs(reference, evaluation, batch_size)

    with bundle.workdir() as work:
        out = work / name
        if config.precision is Precision.FP16:
            stage("converting to FP16")
            record = _convert_fp16(reference, out)
            float_layers, steps = (), ()
        else:
            quant = config.quant.resolved(config.target)
            stage(f"calibrating ({quant.method.value}, {len(calib)} samples) and quantizing")
            quantizer = _Quantizer(reference, work, calib, quant, config.target, batch_size, static_batch)
            quantizer.quantize(out, exclude=quant.exclude)
            float_layers, steps = (), ()
            if config.max_accuracy_drop is not None:
                float_layers, steps = _fallback(quantizer, out, evaluation, reference_outputs, batch_size,
                                                config.max_accuracy_drop, stage)
            record = quantizer.record(calib, float_layers)
        stage("checking the graph")
        check_graph(out)
        accuracy = None
        if evaluation is not None and reference_outputs is not None:
            stage("measuring accuracy against FP32")
            accuracy = compare_accuracy(reference_outputs, run_outputs(out, evaluation, batch_size), evaluation)
        accuracy_known = accuracy is not None and not (calib is not None and calib.random and evaluation is None)
        record.update(precision=config.precision.value, format="onnx", backend="onnxruntime", stage="optimize",
                      target=config.target.value, derived_from={"file": REFERENCE, "sha256": bundle.artifact(REFERENCE)["sha256"]},
                      made_by={"tools": library_versions(("edgeres", "onnx", "onnxruntime"))})
        bundle.manifest.setdefault("validation", {})[name] = {
            "accuracy": accuracy.to_dict() if accuracy else None,
            "accuracy_known": accuracy_known,
            "evaluation": evaluation.describe() if evaluation is not None else None,
            "notes": notes,
        }
        bundle.append_history("optimize", artifact=name, precision=config.precision.value, target=config.target.value)
        full = bundle.add_artifact(name, out, record, force=config.force)
    return OptimizeReport(name, config.precision, config.target, full, accuracy, tuple(float_layers), tuple(steps),
                          time.perf_counter() - started, tuple(notes))


def _batch_size(manifest: dict[str, Any]) -> tuple[int, bool]:
    """Samples per call and whether the model's batch is static (then only full batches can run)."""
    first = manifest["inputs"][0]["shape"][0]
    return (first, True) if isinstance(first, int) else (DYNAMIC_CHUNK, False)


def _convert_fp16(reference: Path, out: Path) -> dict[str, Any]:
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(reference))
    with warnings.catch_warnings(), _quiet():
        warnings.simplefilter("ignore")
        # keep_io_types: apps keep feeding FP32 and reading FP32; casts sit at the graph's edges.
        converted = convert_float_to_float16(model, keep_io_types=True)
    # The converter appends its input casts at the end of the node list; the ONNX checker (rightly)
    # requires topological order.
    sort_topologically(converted.graph)
    onnx.save(converted, str(out))
    return {"conversion": {"tool": "onnxruntime.transformers.float16", "keep_io_types": True}}


def sort_topologically(graph: onnx.GraphProto) -> None:
    """Reorder a graph's nodes so every node comes after the producers of its inputs (stable, in place)."""
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(graph.node)
    ordered: list[onnx.NodeProto] = []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise VerificationError(f"the graph has a cycle or a missing input at node {pending[0].name or pending[0].op_type}")
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)


class _Quantizer:
    """Calibrates once, then quantizes as often as the fallback needs from the cached ranges."""

    def __init__(self, reference: Path, work: Path, calib: Dataset, quant: QuantConfig, target: Target, batch_size: int,
                 static_batch: bool) -> None:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        self.quant, self.target, self.calib, self.batch_size, self.static_batch = quant, target, calib, batch_size, static_batch
        self.prepared = work / "prepared.onnx"
        self.cache = work / "calibration.json"
        self.work = work
        with _quiet():
            quant_pre_process(str(reference), str(self.prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(self.prepared), load_external_data=False).graph
        # The sensitivity search considers every node ONNX Runtime's quantizer would quantize (its default
        # operator set), not only weighted layers: in MobileNetV2 the residual Adds' activation quantization
        # alone cost 15 points of top-1 agreement on photo crops.
        from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

        quantized_ops = set(QDQRegistry) | set(QLinearOpsRegistry)
        self.candidates = [n.name for n in graph.node if n.op_type in quantized_ops]
        missing = sorted(set(quant.exclude) - {n.name for n in graph.node})
        if missing:
            raise ConfigError(f"--exclude names nodes the graph does not have: {', '.join(missing)} (see 'edgeres inspect')")

    def quantize(self, out: Path, *, exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> None:
        """Quantize the prepared model to ``out``, keeping ``exclude`` in float (or quantizing ``only``)."""
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        quant = self.quant
        methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                   "percentile": CalibrationMethod.Percentile}
        symmetric = self.target is Target.TENSORRT
        # ONNX Runtime's string-keyed options, set from typed settings in one place.
        options = {"ActivationSymmetric": symmetric, "WeightSymmetric": True}
        if symmetric:
            options["QuantizeBias"] = False  # TensorRT fuses the bias in float
        with warnings.catch_warnings(), _quiet():
            warnings.simplefilter("ignore")
            quantize_static(
                str(self.prepared), str(out), _Reader(self.calib, self.batch_size, self.static_batch),
                quant_format=QuantFormat.QDQ if quant.quant_format == "qdq" else QuantFormat.QOperator,
                per_channel=quant.per_channel, reduce_range=bool(quant.reduce_range),
                activation_type=QuantType.QUInt8 if quant.activation_type == "uint8" else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude) or None,
                nodes_to_quantize=list(only) if only is not None else None,
                calibrate_method=methods[quant.method.value],
                extra_options=options,
                calibration_cache_path=str(self.cache),
            )
        if not out.is_file():
            raise VerificationError("ONNX Runtime's quantizer wrote no model")

    def record(self, calib: Dataset, float_layers: tuple[FloatLayer, ...] | list[FloatLayer]) -> dict[str, Any]:
        """The manifest's description of the quantization."""
        quant = self.quant
        return {"quantization": {
            "tool": "onnxruntime.quantization.quantize_static", "format": quant.quant_format.upper(),
            "activation_type": quant.activation_type, "weight_type": "int8", "per_channel": quant.per_channel,
            "reduce_range": quant.reduce_range, "symmetric_activations": self.target is Target.TENSORRT,
            "calibration": {"method": quant.method.value, **calib.describe()},
            "float_layers": [vars(layer) for layer in float_layers],
        }}


class _Reader:
    """ONNX Runtime's calibration reader protocol over a :class:`Dataset`.

    A static-batch model takes only full batches, so a trailing partial batch is dropped for it.
    """

    def __init__(self, data: Dataset, batch_size: int, static: bool) -> None:
        self.data, self.batch_size, self.static = data, batch_size, static
        self.name = "input"
        self.start, self.end = 0, len(data)
        self.rewind()

    def rewind(self) -> None:
        starts = range(self.start, self.end, self.batch_size)
        self._batches = iter(
            self.data.inputs[i:min(i + self.batch_size, self.end)]
            for i in starts
            if not self.static or i + self.batch_size <= self.end
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self.name: batch}

    def __len__(self) -> int:
        return len(self.data)

    def set_range(self, start_index: int, end_index: int) -> None:
        self.start, self.end = start_index, end_index
        self.rewind()


def _fallback(
    quantizer: _Quantizer, out: Path, evaluation: Dataset, reference_outputs: np.ndarray, batch_size: int,
    budget: float, stage: Callable[[str], None],
) -> tuple[tuple[FloatLayer, ...], tuple[tuple[int, float], ...]]:
    """Keep the most sensitive layers in float until the measured drop is within ``budget``."""
    accuracy = compare_accuracy(reference_outputs, run_outputs(out, evaluation, batch_size), evaluation)
    steps = [(0, accuracy.drop)]
    if accuracy.drop <= budget:
        return (), tuple(steps)
    # Sensitivity: quantize one layer alone and see how far the outputs move (1 - cosine to FP32).
    probe = evaluation.subset(SENSITIVITY_SAMPLES)
    probe_reference = reference_outputs[: len(probe)]
    single = quantizer.work / "single.onnx"
    scores = []
    for index, node in enumerate(quantizer.candidates):
        stage(f"measuring per-layer sensitivity ({index + 1}/{len(quantizer.candidates)})")
        quantizer.quantize(single, only=(node,))
        outputs = run_outputs(single, probe, batch_size)
        scores.append((1.0 - compare_accuracy(probe_reference, outputs, probe).cosine_mean, node))
    scores.sort(reverse=True)
    base = tuple(quantizer.quant.exclude)
    counts = [c for c in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64) if c < len(scores)] + [len(scores)]
    for count in counts:
        chosen = [node for _, node in scores[:count]]
        stage(f"keeping {count} most sensitive layer(s) in float")
        quantizer.quantize(out, exclude=base + tuple(chosen))
        accuracy = compare_accuracy(reference_outputs, run_outputs(out, evaluation, batch_size), evaluation)
        steps.append((count, accuracy.drop))
        if accuracy.drop <= budget:
            measure = "top-1 drop" if accuracy.labelled else "disagreement with FP32"
            layers = tuple(
                FloatLayer(node, round(score, 6), f"rank {rank + 1} of {len(scores)} by output error when quantized alone "
                           f"(1 - cosine); kept in float to bring the {measure} within {budget} points")
                for rank, (score, node) in enumerate(scores[:count])
            )
            return layers, tuple(steps)
    raise VerificationError(
        f"the accuracy budget of {budget} points cannot be met: INT8 lost {steps[0][1]:.2f} points, and "
        f"{steps[-1][1]:.2f} with all {len(scores)} quantized layers in float. Nothing was written; raise "
        "--max-accuracy-drop, calibrate on more representative data, or use --precision fp16"
    )


@contextlib.contextmanager
def _quiet():  # noqa: ANN202
    """ONNX Runtime's quantization tools log and print freely; keep the terminal for edgeres' own report."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)
