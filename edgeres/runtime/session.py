"""The session contract every backend speaks: described inputs and outputs, numpy in, numpy out.

Like Polygraphy's runners, but small: ``session.run({"input": array})`` (or just ``array`` for a
single-input model) returns ``{"logits": array}``; ``with`` closes it. Inputs are validated against the
model's names, shapes and dtypes, with errors that say what was expected.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeres.errors import EdgeresError


class InputError(EdgeresError, ValueError):
    """Inputs that do not fit the model."""


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output: name, shape (symbolic dimensions as strings), numpy dtype."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


class Session(ABC):
    """A loaded model ready to run.

    Attributes:
        backend: ``"onnxruntime"``, ``"openvino"``, ``"torch"``, ...
        provider: What really executes it (e.g. ``CPUExecutionProvider``, ``CPU``).
        device: The device asked for (``cpu``, ``cuda``, ...).
        threads: Intra-op threads (0: the backend's default).
    """

    backend: str = ""
    provider: str = ""
    device: str = "cpu"
    threads: int = 0
    _inputs: list[TensorSpec]
    _outputs: list[TensorSpec]

    @property
    def inputs(self) -> list[TensorSpec]:
        """The model's inputs (set by the backend as ``_inputs``)."""
        return self._inputs

    @property
    def outputs(self) -> list[TensorSpec]:
        """The model's outputs (set by the backend as ``_outputs``)."""
        return self._outputs

    @abstractmethod
    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run validated inputs."""

    def run(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """Run the model.

        Args:
            inputs: ``{name: array}``, or one array for a single-input model.

        Returns:
            ``{output name: array}``.

        Raises:
            InputError: Missing or unknown input names, wrong rank, shape or dtype.
        """
        return self._run(self.validate(inputs))

    def validate(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """Check inputs against the model's description; returns the feed dict."""
        specs = {spec.name: spec for spec in self.inputs}
        if isinstance(inputs, np.ndarray):
            if len(specs) != 1:
                raise InputError(f"the model has {len(specs)} inputs ({', '.join(specs)}); pass a dict of arrays")
            inputs = {next(iter(specs)): inputs}
        if not isinstance(inputs, Mapping):
            raise InputError(f"inputs must be a numpy array or a dict of arrays, not {type(inputs).__name__}")
        missing, unknown = sorted(set(specs) - set(inputs)), sorted(set(inputs) - set(specs))
        if missing or unknown:
            raise InputError(
                f"input names do not match the model: missing {missing or 'none'}, unknown {unknown or 'none'}; "
                f"the model takes {', '.join(f'{s.name} {list(s.shape)} {s.dtype}' for s in specs.values())}"
            )
        feeds = {}
        for name, value in inputs.items():
            spec = specs[name]
            array = np.asarray(value)
            if array.dtype != np.dtype(spec.dtype):
                raise InputError(f"input {name} is {array.dtype}, the model takes {spec.dtype}; convert with .astype(np.{spec.dtype})")
            if array.ndim != len(spec.shape):
                raise InputError(f"input {name} has shape {array.shape}, the model takes {list(spec.shape)} ({len(spec.shape)} dimensions)")
            for axis, (got, want) in enumerate(zip(array.shape, spec.shape)):
                if isinstance(want, int) and want > 0 and got != want:
                    raise InputError(f"input {name} has shape {array.shape}, the model takes {list(spec.shape)} (dimension {axis} differs)")
            feeds[name] = np.ascontiguousarray(array)
        return feeds

    def describe(self) -> dict[str, Any]:
        """Backend, provider, device, threads, inputs and outputs."""
        return {"backend": self.backend, "provider": self.provider, "device": self.device, "threads": self.threads,
                "inputs": [s.to_dict() for s in self.inputs], "outputs": [s.to_dict() for s in self.outputs]}

    def close(self) -> None:
        """Release the backend's resources."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
