"""Numeric precisions, shared by every stage."""

from __future__ import annotations

from enum import Enum


class Precision(str, Enum):
    """The precision of an artifact's computation."""

    FP32 = "fp32"
    FP16 = "fp16"
    INT8 = "int8"

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        """Parse ``"fp32"``, ``"FP16"``, ``Precision.INT8``, ...

        Raises:
            ConfigError: Not a known precision.
        """
        from edgeres.errors import ConfigError

        if isinstance(value, Precision):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ConfigError(f"unknown precision {value!r}; choose fp32, fp16 or int8") from None
