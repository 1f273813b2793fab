"""PyTorch itself behind the session contract: the baseline users compare against (``--backend torch``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgeres.runtime.session import Session, TensorSpec


class TorchSession(Session):
    """An eager PyTorch model in eval mode, run under ``torch.inference_mode``.

    Args:
        model: The network.
        input_shape: ``(C, H, W)``.
        threads: ``torch.set_num_threads`` while this session runs (restored on close); 0 keeps the default.
    """

    backend = "torch"

    def __init__(self, model: nn.Module, input_shape: tuple[int, int, int], threads: int = 0) -> None:
        self._model = model.eval()
        self._previous_threads = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        self.provider, self.device, self.threads = f"eager (torch {torch.__version__})", "cpu", threads
        with torch.inference_mode():
            out = self._model(torch.zeros((1, *input_shape)))
        self._inputs = [TensorSpec("input", ("batch", *input_shape), "float32")]
        self._outputs = [TensorSpec("logits", ("batch", *out.shape[1:]), "float32")]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            return {"logits": self._model(torch.from_numpy(feeds["input"])).numpy()}

    def close(self) -> None:
        torch.set_num_threads(self._previous_threads)
