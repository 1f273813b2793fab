"""Settings of the optimize stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from edgeres.errors import ConfigError
from edgeres.precision import Precision


class Target(str, Enum):
    """Where the optimized artifact will run; it decides the INT8 format."""

    CPU = "cpu"
    TENSORRT = "tensorrt"


class CalibrationMethod(str, Enum):
    """How activation ranges are chosen from the calibration data (ONNX Runtime's calibrators)."""

    MINMAX = "minmax"
    ENTROPY = "entropy"
    PERCENTILE = "percentile"


@dataclass(frozen=True)
class QuantConfig:
    """INT8 quantization settings (ONNX Runtime's quantization tool underneath).

    Attributes:
        method: Calibration method.
        activation_type: ``"uint8"`` or ``"int8"``; ``None`` chooses by target. CPU: unsigned activations
            with signed weights, the only pairing ONNX Runtime fuses into integer convolutions on AVX2
            without VNNI (measured: 1.2-1.9x faster than FP32; signed/signed ran 0.6-1.0x). TensorRT:
            signed and symmetric, the only form it accepts.
        per_channel: Per-output-channel weight scales (needed for depthwise convolutions).
        reduce_range: 7-bit weights; ``None`` chooses by target (on for CPU: ONNX Runtime recommends it on
            x86 without VNNI to avoid overflow in the 16-bit accumulation; it cost no speed and improved
            MobileNetV2's outputs; off for TensorRT).
        quant_format: ``"qdq"`` (explicit QuantizeLinear/DequantizeLinear, portable, what TensorRT reads)
            or ``"qoperator"`` (QLinearConv; ONNX Runtime only).
        exclude: Node names kept in float regardless.
    """

    method: CalibrationMethod = CalibrationMethod.MINMAX
    activation_type: str | None = None
    per_channel: bool = True
    reduce_range: bool | None = None
    quant_format: str = "qdq"
    exclude: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "method", CalibrationMethod(self.method))
        except ValueError:
            raise ConfigError(f"unknown calibration method {self.method!r}; choose minmax, entropy or percentile") from None
        if self.activation_type not in (None, "uint8", "int8"):
            raise ConfigError(f"activation type must be uint8 or int8, got {self.activation_type!r}")
        if self.quant_format not in ("qdq", "qoperator"):
            raise ConfigError(f"quantization format must be qdq or qoperator, got {self.quant_format!r}")

    def resolved(self, target: Target) -> QuantConfig:
        """The settings with the target's choices filled in, checked against the target's rules.

        Raises:
            ConfigError: A setting the target cannot run (TensorRT: unsigned activations, QOperator).
        """
        if target is Target.TENSORRT:
            if self.activation_type == "uint8":
                raise ConfigError("TensorRT takes only signed, symmetric INT8 activations; drop --activation-type uint8")
            if self.quant_format != "qdq":
                raise ConfigError("TensorRT reads explicit QDQ graphs only; drop --quant-format qoperator")
            activation, reduce_range = "int8", False if self.reduce_range is None else self.reduce_range
        else:
            activation = self.activation_type or "uint8"
            reduce_range = True if self.reduce_range is None else self.reduce_range
        return QuantConfig(self.method, activation, self.per_channel, reduce_range, self.quant_format, self.exclude)


@dataclass(frozen=True)
class OptimizeConfig:
    """One optimize run: which artifact to make and how to measure it.

    Attributes:
        precision: FP16 or INT8 (FP32 is the export itself).
        target: ``cpu`` (ONNX Runtime) or ``tensorrt``.
        calib: Calibration data (folder, .npy/.npz, IDX file, or ``random``); INT8 only.
        eval: Evaluation data; labelled data gives top-1/top-5, unlabelled gives agreement with FP32.
        calib_limit: Use at most this many calibration samples.
        eval_limit: Use at most this many evaluation samples.
        allow_small_calib: Accept fewer calibration samples than the minimum.
        quant: INT8 settings.
        max_accuracy_drop: Top-1 points INT8 may lose against FP32 (agreement points without labels);
            layers are kept in float, most sensitive first, until the budget holds.
        force: Replace an existing artifact of the same name.
    """

    precision: Precision
    target: Target = Target.CPU
    calib: str | None = None
    eval: str | None = None
    calib_limit: int = 512
    eval_limit: int = 1000
    allow_small_calib: bool = False
    quant: QuantConfig = field(default_factory=QuantConfig)
    max_accuracy_drop: float | None = None
    force: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "precision", Precision.parse(self.precision))
        try:
            object.__setattr__(self, "target", Target(self.target))
        except ValueError:
            raise ConfigError(f"unknown target {self.target!r}; choose cpu or tensorrt") from None
        if self.precision is Precision.FP32:
            raise ConfigError("fp32 is the exported model.onnx itself; optimize makes fp16 or int8")
        if self.precision is Precision.INT8 and not self.calib:
            raise ConfigError(
                "int8 needs calibration data: --calib DIR|FILE.npy|FILE.npz|IDX-FILE (or --calib random, "
                "which leaves the accuracy unknown)"
            )
        if self.max_accuracy_drop is not None and self.max_accuracy_drop < 0:
            raise ConfigError(f"--max-accuracy-drop must be >= 0 points, got {self.max_accuracy_drop}")
        if self.max_accuracy_drop is not None and self.precision is not Precision.INT8:
            raise ConfigError("--max-accuracy-drop applies to int8")
        for name in ("calib_limit", "eval_limit"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be positive")
