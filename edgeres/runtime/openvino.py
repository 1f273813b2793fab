"""The OpenVINO backend (``pip install 'edgeres[openvino]'``): the other serious CPU runtime.

OpenVINO reads the same ONNX files, QDQ INT8 included, and compiles them for the CPU. Static shapes
compile once per shape, so a dynamic-batch model is recompiled (and cached) per batch size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeres.errors import ConfigError
from edgeres.optional import require
from edgeres.runtime.session import Session, TensorSpec


class OpenVinoSession(Session):
    """An OpenVINO compiled model behind the edgeres contract.

    Args:
        path: The ONNX file.
        device: ``cpu`` (OpenVINO's ``CPU`` plugin).
        threads: Inference threads; 0 lets OpenVINO choose.
        perf_counters: Collect per-layer timings (``layer_timings``).
    """

    backend = "openvino"

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0, perf_counters: bool = False) -> None:
        ov = require("openvino", extra="openvino")
        if device != "cpu":
            raise ConfigError(f"the OpenVINO backend runs on the CPU here; got --device {device}")
        self._core = ov.Core()
        self._model = self._core.read_model(str(path))
        self._config = {"PERF_COUNT": perf_counters}
        if threads:
            self._config["INFERENCE_NUM_THREADS"] = threads
        self._compiled: dict[tuple, object] = {}
        self.provider, self.device, self.threads = "CPU", device, threads
        self._inputs = [TensorSpec(p.get_any_name(), _shape(p.get_partial_shape()), p.get_element_type().to_dtype().name)
                        for p in self._model.inputs]
        self._outputs = [TensorSpec(p.get_any_name(), _shape(p.get_partial_shape()), p.get_element_type().to_dtype().name)
                         for p in self._model.outputs]
        self._last = None

    def _request(self, feeds: dict[str, np.ndarray]):  # noqa: ANN202
        key = tuple(feeds[s.name].shape for s in self._inputs)
        if key not in self._compiled:
            model = self._model
            if any(isinstance(d, str) for s in self._inputs for d in s.shape):
                model = self._model.clone()
                model.reshape({s.name: list(feeds[s.name].shape) for s in self._inputs})
            compiled = self._core.compile_model(model, "CPU", self._config)
            self._compiled[key] = compiled.create_infer_request()
        return self._compiled[key]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        request = self._request(feeds)
        request.infer(feeds)
        self._last = request
        return {spec.name: np.array(request.get_output_tensor(i).data) for i, spec in enumerate(self._outputs)}

    def layer_timings(self) -> list[tuple[str, str, float]]:
        """``(layer name, layer type, real time in ms)`` of the last run (needs ``perf_counters``)."""
        if self._last is None:
            return []
        return [(info.node_name, info.node_type, info.real_time.total_seconds() * 1e3)
                for info in self._last.profiling_info if info.status.name == "EXECUTED"]


def _shape(partial) -> tuple[int | str, ...]:  # noqa: ANN001
    return tuple(d.get_length() if d.is_static else "?" for d in partial)
