"""The one exception hierarchy of edgeres.

Every message says what was wrong and what to do about it. The CLI prints the message without a
traceback and exits non-zero.
"""

from __future__ import annotations


class EdgeresError(Exception):
    """Base class of every error edgeres raises on purpose."""


class ConfigError(EdgeresError, ValueError):
    """A configuration value, option or recipe is invalid."""


class ModelNotFoundError(EdgeresError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(EdgeresError):
    """A checkpoint cannot be read safely or does not fit the model."""


class MissingDependencyError(EdgeresError, ImportError):
    """An optional package that this operation needs is not installed."""


class BundleError(EdgeresError):
    """A bundle is missing, unreadable, inconsistent, or would be overwritten."""


class VerificationError(EdgeresError):
    """An exported or optimized model failed a check (ONNX checker, shape inference, parity)."""
