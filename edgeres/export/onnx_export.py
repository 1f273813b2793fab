"""PyTorch to ONNX, verified, into a bundle."""

from __future__ import annotations

import contextlib
import io
import logging
import platform
import time
import warnings
from dataclasses import dataclass
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from edgeres import __version__
from edgeres.bundle import Bundle, create_bundle, sha256_file
from edgeres.devices.host import library_versions
from edgeres.errors import ConfigError, VerificationError
from edgeres.export.config import ExportConfig, Exporter
from edgeres.export.layers import layer_costs
from edgeres.export.source import ModelSource
from edgeres.export.verify import ParityResult, check_graph, check_parity
from edgeres.models.cost import count_params
from edgeres.precision import Precision

ONNX_FILE = "model.onnx"
INPUT_NAME = "input"
BATCH_DIM = "batch"


@dataclass(frozen=True)
class ExportReport:
    """What an export produced and how it was verified.

    Attributes:
        bundle: The bundle directory.
        onnx_path: The exported model.
        opset: The opset of the written file.
        exporter: The exporter used.
        seconds: Wall time of ``torch.onnx.export``.
        nodes: Nodes in the final graph.
        nodes_exported: Nodes before simplification.
        macs: Multiply-accumulates per sample, from the graph.
        params: Parameters of the PyTorch model.
        parity: The parity results, per output and batch size.
        sha256: Hash of the ONNX file.
    """

    bundle: Path
    onnx_path: Path
    opset: int
    exporter: str
    seconds: float
    nodes: int
    nodes_exported: int
    macs: int
    params: int
    parity: tuple[ParityResult, ...]
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "bundle": str(self.bundle), "onnx": str(self.onnx_path), "opset": self.opset,
            "exporter": self.exporter, "seconds": round(self.seconds, 3), "nodes": self.nodes,
            "nodes_exported": self.nodes_exported, "macs": self.macs, "params": self.params,
            "parity": [p.to_dict() for p in self.parity], "sha256": self.sha256,
        }


def tool_versions() -> dict[str, str]:
    """Versions of the tools that make and check artifacts."""
    return library_versions(("edgeres", "torch", "onnx", "onnxruntime", "onnxslim"))


def export_onnx(
    model: nn.Module | ModelSource, config: ExportConfig, *, on_stage: Callable[[str], None] | None = None
) -> ExportReport:
    """Export a model to ONNX, verify it, and write a bundle at ``config.output``.

    The bundle is assembled in a temporary directory and published only when every check passes: the
    ONNX checker (full), strict shape inference, and numerical parity against PyTorch through ONNX
    Runtime (batch ``config.batch``, or 1 and 3 with a dynamic batch, and a second resolution with
    dynamic height and width). A failure leaves an existing bundle untouched.

    Args:
        model: An ``nn.Module`` (give ``config.input_shape``) or a resolved :class:`ModelSource`.
        config: The export settings.
        on_stage: Called with a short description as each stage starts (for progress displays).

    Returns:
        The report; the manifest is in ``<output>/edgeres.json``.

    Raises:
        ConfigError: Missing input shape, or settings that do not fit the model.
        BundleError: The output exists (without ``force``), or is not writable.
        VerificationError: A check failed; the message says which and by how much.
    """
    source = model if isinstance(model, ModelSource) else ModelSource(model.eval(), type(model).__name__, "module", None, None)
    shape = config.input_shape or (source.input_spec.shape if source.input_spec else None)
    if shape is None:
        raise ConfigError(f"the input shape of {source.name} is unknown; give it as C,H,W (--input-shape 3,224,224)")
    module = source.model.eval()
    example = torch.randn((1 if config.dynamic_batch else config.batch, *shape), generator=torch.Generator().manual_seed(config.seed))
    output_names = _output_names(module, example)
    stage = on_stage or (lambda _: None)

    with create_bundle(config.output, force=config.force) as bundle:
        path = bundle.root / ONNX_FILE
        stage(f"exporting with the {config.exporter.value} exporter, opset {config.opset}")
        started = time.perf_counter()
        _torch_export(module, example, path, output_names, config)
        seconds = time.perf_counter() - started
        # One load of the exported file; simplification and metadata work on it in memory.
        graph = onnx.load(str(path))
        nodes_exported = len(graph.graph.node)
        if config.simplify:
            stage("simplifying the graph (onnxslim)")
            graph = _simplify(graph)
        _write_metadata(graph, source, shape)
        onnx.save(graph, str(path))
        stage("checking the graph (ONNX checker, shape inference)")
        check_graph(path)
        opset = _opset(graph)
        if opset != config.opset:
            # The dynamo exporter raises 17 to 18 and falls back to 18 on failure, silently (MEASURED.md).
            raise VerificationError(
                f"asked for opset {config.opset}, the {config.exporter.value} exporter wrote opset {opset}; a graph "
                "at another opset may not run on the target. Ask for --opset "
                f"{opset}, or use --exporter {'torchscript' if config.exporter is Exporter.DYNAMO else 'dynamo'}"
            )
        stage("checking parity against PyTorch through ONNX Runtime")
        parity = check_parity(path, _reference(module), _parity_inputs(shape, config), config.tolerance)
        costs = layer_costs(graph, {INPUT_NAME: (1, *shape)})
        _fill_manifest(bundle, source, config, shape, output_names, _output_shapes(graph), costs.totals["macs"], parity,
                       opset, seconds)
        digest = bundle.artifacts[ONNX_FILE]["sha256"]
        nodes = len(graph.graph.node)
    return ExportReport(
        Path(config.output), Path(config.output) / ONNX_FILE, opset, config.exporter.value, seconds, nodes,
        nodes_exported, costs.totals["macs"], count_params(module), tuple(parity), digest,
    )


def _output_names(module: nn.Module, example: torch.Tensor) -> list[str]:
    try:
        with torch.no_grad():
            out = module(example)
    except Exception as exc:  # noqa: BLE001  (the user's forward failing on the given shape)
        raise ConfigError(
            f"the model fails on an input of shape {tuple(example.shape)}: {type(exc).__name__}: {exc}; "
            "check --input-shape"
        ) from exc
    if isinstance(out, torch.Tensor):
        return ["logits"]
    if isinstance(out, (tuple, list)) and all(isinstance(o, torch.Tensor) for o in out):
        return [f"output_{i}" for i in range(len(out))]
    raise ConfigError(f"the model returns a {type(out).__name__}; edgeres exports models that return tensors")


def _torch_export(module: nn.Module, example: torch.Tensor, path: Path, output_names: list[str], config: ExportConfig) -> None:
    dynamic_axes = None
    if config.dynamic_batch:
        dims = {0: BATCH_DIM, **({2: "height", 3: "width"} if config.dynamic_hw else {})}
        dynamic_axes = {INPUT_NAME: dims, **{name: {0: BATCH_DIM} for name in output_names}}
    arguments: dict[str, Any] = dict(
        input_names=[INPUT_NAME], output_names=output_names, opset_version=config.opset, dynamic_axes=dynamic_axes,
    )
    if config.exporter is Exporter.TORCHSCRIPT:
        arguments.update(dynamo=False, do_constant_folding=True)
    else:
        # external_data=False keeps weights inside model.onnx (the dynamo default writes model.onnx.data).
        arguments.update(dynamo=True, external_data=False, verbose=False)
    noise = io.StringIO()
    try:
        # The exporters print deprecation notices and progress; the report carries what matters.
        with warnings.catch_warnings(), contextlib.redirect_stdout(noise), _quiet_loggers():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), str(path), **arguments)
    except Exception as exc:  # noqa: BLE001  (exporters raise many error types)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "try --exporter dynamo" if config.exporter is Exporter.TORCHSCRIPT else "try --exporter torchscript"
        raise VerificationError(f"torch.onnx.export ({config.exporter.value}) failed: {message[:400]}; {hint}") from exc
    if not path.is_file():
        raise VerificationError(f"torch.onnx.export ({config.exporter.value}) wrote no file; try the other --exporter")


@contextlib.contextmanager
def _quiet_loggers():  # noqa: ANN202
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._dynamo", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _simplify(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxslim

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return onnxslim.slim(model)


def _write_metadata(model: onnx.ModelProto, source: ModelSource, shape: tuple[int, int, int]) -> None:
    spec = source.input_spec
    entries = {
        "model_name": source.name,
        "edgeres_version": __version__,
        "input_layout": "NCHW",
        "input_shape": ",".join(map(str, shape)),
    }
    if spec is not None:
        entries.update(mean=",".join(f"{v:g}" for v in spec.mean), std=",".join(f"{v:g}" for v in spec.std),
                       channel_order=spec.channel_order, scale=f"{spec.scale:.10g}")
    if source.num_classes is not None:
        entries["num_classes"] = str(source.num_classes)
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, entries)
    model.doc_string = f"{source.name}, exported by edgeres {__version__}"


def _opset(model: onnx.ModelProto) -> int:
    return next(op.version for op in model.opset_import if op.domain in ("", "ai.onnx"))


def _reference(module: nn.Module):  # noqa: ANN202
    def run(batch: np.ndarray) -> list[np.ndarray]:
        with torch.no_grad():
            out = module(torch.from_numpy(batch))
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        return [o.numpy() for o in outs]

    return run


def _parity_inputs(shape: tuple[int, int, int], config: ExportConfig) -> list[np.ndarray]:
    rng = np.random.default_rng(config.seed)
    batches = [1, 3] if config.dynamic_batch else [config.batch]
    inputs = [rng.standard_normal((b, *shape), dtype=np.float32) for b in batches]
    if config.dynamic_hw:
        channels, height, width = shape
        inputs.append(rng.standard_normal((2, channels, height + 32, width + 32), dtype=np.float32))
    return inputs


def _fill_manifest(
    bundle: Bundle, source: ModelSource, config: ExportConfig, shape: tuple[int, int, int], output_names: list[str],
    output_shapes: list[list[int | str]], macs: int, parity: list[ParityResult], opset: int, seconds: float,
) -> None:
    onnx_path = bundle.root / ONNX_FILE
    batch: str | int = BATCH_DIM if config.dynamic_batch else config.batch
    spatial: list[str | int] = ["height", "width"] if config.dynamic_hw else list(shape[1:])
    spec = source.input_spec
    versions = tool_versions()
    bundle.manifest.update(
        source={
            "kind": source.kind, "name": source.name, "weights": source.weights,
            "params": count_params(source.model), "macs": macs, "num_classes": source.num_classes, **source.details,
        },
        inputs=[{"name": INPUT_NAME, "shape": [batch, shape[0], *spatial], "dtype": "float32", "layout": "NCHW",
                 "example_shape": list(shape)}],
        outputs=[{"name": name, "shape": [batch if d == 0 else s for d, s in enumerate(dims)], "dtype": "float32"}
                 for name, dims in zip(output_names, output_shapes)],
        preprocessing=None if spec is None else {
            "mean": list(spec.mean), "std": list(spec.std), "scale": spec.scale, "channel_order": spec.channel_order,
            "resize_shorter": round(shape[1] / 0.875), "center_crop": list(shape[1:]),
        },
        artifacts={ONNX_FILE: {
            "file": ONNX_FILE, "format": "onnx", "precision": Precision.FP32.value, "backend": "onnxruntime",
            "stage": "export", "opset": opset, "exporter": config.exporter.value, "simplified": config.simplify,
            "made_by": {"tools": versions, "machine": platform.machine(), "system": platform.system()},
            "created": bundle.manifest["created"], "sha256": sha256_file(onnx_path), "bytes": onnx_path.stat().st_size,
        }},
        validation={ONNX_FILE: {
            "checker": "passed (full_check)", "shape_inference": "passed (strict)",
            "parity": {"reference": "pytorch", "runtime": "onnxruntime CPUExecutionProvider, ORT_ENABLE_ALL",
                       "tolerance": vars(config.tolerance), "results": [p.to_dict() for p in parity]},
        }},
        tools=versions,
    )
    bundle.append_history("export", artifact=ONNX_FILE, config=config.to_dict(), seconds=round(seconds, 3))


def _output_shapes(model: onnx.ModelProto) -> list[list[int | str]]:
    shapes = []
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        shapes.append([d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims])
    return shapes
