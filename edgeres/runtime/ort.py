"""The ONNX Runtime backend: CPU, CUDA and TensorRT execution providers, reporting which one really runs.

ONNX Runtime quietly falls back to the CPU when a requested provider cannot load (a missing CUDA
library, a CPU-only wheel). edgeres asks for exactly one accelerator provider and refuses to report a
CPU run as a GPU one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeres.errors import ConfigError, EdgeresError
from edgeres.runtime.session import Session, TensorSpec

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
_ORT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
              "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8", "tensor(uint8)": "uint8",
              "tensor(bool)": "bool"}


class OrtSession(Session):
    """An ONNX Runtime inference session behind the edgeres contract.

    Args:
        path: The ONNX file.
        device: ``cpu``, ``cuda`` or ``tensorrt`` (the execution provider to use).
        threads: Intra-op threads; 0 lets ONNX Runtime choose (all physical cores).
        profile_file_prefix: Turn on ONNX Runtime's profiler, writing JSON with this prefix.

    Raises:
        ConfigError: Unknown device, or its provider is not in this onnxruntime build.
        EdgeresError: The provider failed to load and ONNX Runtime fell back to the CPU.
    """

    backend = "onnxruntime"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, profile_file_prefix: str | None = None) -> None:
        import onnxruntime as ort

        if device not in PROVIDERS:
            raise ConfigError(f"unknown device {device!r} for ONNX Runtime; choose {', '.join(PROVIDERS)}")
        wanted = PROVIDERS[device]
        available = ort.get_available_providers()
        if wanted not in available:
            extra = "onnxruntime-gpu" if device in ("cuda", "tensorrt") else "onnxruntime"
            raise ConfigError(
                f"ONNX Runtime {ort.__version__} here has no {wanted} (available: {', '.join(available)}); "
                f"install {extra} for --device {device}"
            )
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if profile_file_prefix:
            options.enable_profiling = True
            options.profile_file_prefix = profile_file_prefix
        # Pin the providers explicitly: ONNX Runtime lists e.g. AzureExecutionProvider as available.
        providers = [wanted] if wanted == "CPUExecutionProvider" else [wanted, "CPUExecutionProvider"]
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # noqa: BLE001  (onnxruntime raises untyped errors)
            raise EdgeresError(f"ONNX Runtime cannot load {path}: {str(exc).strip().splitlines()[0][:300]}") from exc
        actual = self._session.get_providers()
        if actual[0] != wanted:
            raise EdgeresError(
                f"asked for {wanted} but ONNX Runtime runs this model on {actual[0]} (the provider failed to load); "
                "check the CUDA/TensorRT libraries, or profile with --device cpu"
            )
        self.provider, self.device, self.threads = actual[0], device, threads
        self._inputs = [TensorSpec(i.name, tuple(d if isinstance(d, int) else str(d) for d in i.shape), _ORT_TYPES.get(i.type, i.type))
                        for i in self._session.get_inputs()]
        self._outputs = [TensorSpec(o.name, tuple(d if isinstance(d, int) else str(d) for d in o.shape), _ORT_TYPES.get(o.type, o.type))
                         for o in self._session.get_outputs()]
        self._names = [o.name for o in self._outputs]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self._names, self._session.run(self._names, feeds)))

    def end_profiling(self) -> str:
        """Stop ONNX Runtime's profiler; the path of its JSON trace."""
        return self._session.end_profiling()

    def close(self) -> None:
        self._session = None  # type: ignore[assignment]
