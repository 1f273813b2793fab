"""The export configuration and report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from edgeres.errors import ConfigError

# Opset 17 is the newest that every target edgeres serves runs: TensorRT 8.5 on JetPack 5 parses up to
# 17, TensorRT 10 and ONNX Runtime run it, and it has LayerNormalization. Newer opsets add nothing a
# convolutional network needs.
DEFAULT_OPSET = 17
MIN_OPSET = 11


class Exporter(str, Enum):
    """Which ``torch.onnx.export`` path makes the graph.

    TORCHSCRIPT (``dynamo=False``) is the default: measured on the zoo it exports in 0.4-4 s against
    4.6-6.7 s, honours the requested opset (dynamo raises 17 to 18), and names nodes after module paths
    (``/layer1/layer1.0/conv1/Conv``; dynamo: ``node_Conv_291``), which quantization exclusion lists
    and per-layer reports rely on. Numerical parity was the same.
    """

    TORCHSCRIPT = "torchscript"
    DYNAMO = "dynamo"


@dataclass(frozen=True)
class ParityTolerance:
    """When ONNX Runtime's outputs count as equal to PyTorch's.

    An output passes when ``max_abs <= atol + rtol * max|reference|`` and its cosine similarity to the
    reference is at least ``min_cosine``. The tolerance scales with the output, so a model whose
    logits are tiny (random-init MobileNets give ~1e-9) cannot pass on absolute error alone.
    """

    rtol: float = 1e-3
    atol: float = 1e-6
    min_cosine: float = 0.9999


@dataclass(frozen=True)
class ExportConfig:
    """Settings of one export.

    Attributes:
        output: The bundle directory to write.
        input_shape: ``(channels, height, width)``; ``None`` takes the model's default.
        batch: The static batch size (ignored with ``dynamic_batch``).
        dynamic_batch: Make the batch dimension symbolic.
        dynamic_hw: Make height and width symbolic too.
        opset: The ONNX opset to export.
        exporter: TorchScript-based (default) or dynamo-based exporter.
        simplify: Clean the graph with onnxslim after export (verified afterwards).
        tolerance: The parity criterion.
        seed: Seed of the random parity inputs.
        force: Replace an existing bundle.
    """

    output: Path
    input_shape: tuple[int, int, int] | None = None
    batch: int = 1
    dynamic_batch: bool = False
    dynamic_hw: bool = False
    opset: int = DEFAULT_OPSET
    exporter: Exporter = Exporter.TORCHSCRIPT
    simplify: bool = True
    tolerance: ParityTolerance = field(default_factory=ParityTolerance)
    seed: int = 0
    force: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "output", Path(self.output))
        object.__setattr__(self, "exporter", parse_exporter(self.exporter))
        if self.input_shape is not None:
            object.__setattr__(self, "input_shape", parse_input_shape(self.input_shape))
        if not isinstance(self.batch, int) or self.batch < 1:
            raise ConfigError(f"batch must be a positive integer, got {self.batch!r}")
        if not isinstance(self.opset, int) or self.opset < MIN_OPSET:
            raise ConfigError(f"opset must be an integer >= {MIN_OPSET}, got {self.opset!r}")
        import onnx.defs

        newest = onnx.defs.onnx_opset_version()
        if self.opset > newest:
            raise ConfigError(
                f"opset {self.opset} is newer than the installed onnx {onnx.__version__} knows (up to {newest}); "
                f"choose --opset {DEFAULT_OPSET} (the default) or upgrade onnx"
            )
        if self.dynamic_hw and not self.dynamic_batch:
            object.__setattr__(self, "dynamic_batch", True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the manifest)."""
        data = asdict(self)
        data["output"] = str(self.output)
        data["exporter"] = self.exporter.value
        return data


def parse_exporter(value: str | Exporter) -> Exporter:
    """Parse ``"torchscript"`` or ``"dynamo"``."""
    try:
        return Exporter(value)
    except ValueError:
        raise ConfigError(f"unknown exporter {value!r}; choose torchscript or dynamo") from None


def parse_input_shape(value: str | tuple[int, ...] | list[int]) -> tuple[int, int, int]:
    """Parse an input shape: ``"3,224,224"``, ``"3x224x224"`` or a sequence of three integers.

    A leading batch dimension (``1,3,224,224``) is refused with a hint to use ``--batch``.

    Raises:
        ConfigError: Not three positive integers.
    """
    if isinstance(value, str):
        parts = [p for p in value.replace("x", ",").replace(" ", ",").split(",") if p]
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise ConfigError(f"input shape {value!r} is not a list of integers; write it as C,H,W, e.g. 3,224,224") from None
    else:
        dims = tuple(value)
    if len(dims) == 4:
        raise ConfigError(
            f"input shape {value!r} has four dimensions; give C,H,W without the batch (use --batch or --dynamic-batch)"
        )
    if len(dims) != 3 or not all(isinstance(d, int) and d > 0 for d in dims):
        raise ConfigError(f"input shape {value!r} must be three positive integers C,H,W, e.g. 3,224,224")
    return dims  # type: ignore[return-value]
