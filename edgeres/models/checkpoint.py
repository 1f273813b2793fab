"""Safe checkpoint loading.

A checkpoint is a path (``.safetensors``, or ``.pt``/``.pth``/``.bin``/``.ckpt`` read with
``torch.load(weights_only=True)``) or a state dict already in memory. Nothing is ever unpickled beyond
tensors and plain containers. torchvision checkpoints load into the MobileNets through the one explicit
key map in :mod:`edgeres.models.mobilenet`; the ResNets use torchvision's keys directly.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from edgeres.errors import CheckpointError

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "module", "ema", "model_ema")
_STRIP_PREFIXES = ("module.", "_orig_mod.")
_BOOKKEEPING = ("num_batches_tracked",)
_MAX_LISTED = 8


@dataclass(frozen=True)
class CheckpointReport:
    """What :func:`load_checkpoint` did.

    Attributes:
        source: The file it read, or ``"<state_dict>"``.
        key_format: ``"edgeres"`` or ``"torchvision"``, whichever the keys matched.
        tensors: Number of tensors loaded.
        filled: Bookkeeping buffers absent from the checkpoint and kept from the model
            (``num_batches_tracked`` in checkpoints saved by old PyTorch versions).
    """

    source: str
    key_format: str
    tensors: int
    filled: tuple[str, ...]


def read_state_dict(source: str | Path | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Read a state dict from a file or mapping, safely, unwrapping common containers.

    Raises:
        CheckpointError: Missing file, unknown format, pickled objects, or no tensors inside.
    """
    if isinstance(source, Mapping):
        raw: object = dict(source)
        label = "<state_dict>"
    else:
        path = Path(source)
        label = str(path)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {label} does not exist")
        raw = _read_file(path)
    state = _unwrap(raw, label)
    for prefix in _STRIP_PREFIXES:
        if state and all(key.startswith(prefix) for key in state):
            state = {key[len(prefix):]: value for key, value in state.items()}
    return state


def _read_file(path: Path) -> object:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"cannot read {path} as safetensors: {exc}") from exc
    if suffix not in (".pt", ".pth", ".bin", ".ckpt", ".tar"):
        raise CheckpointError(
            f"unknown checkpoint format {suffix!r} for {path}; use .safetensors, .pt or .pth"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"refusing to load {path}: it contains pickled Python objects other than tensors "
            f"({first_line[:200]}). edgeres never unpickles arbitrary objects; re-save the weights "
            "with torch.save(model.state_dict(), ...) or as .safetensors"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc


def _unwrap(raw: object, label: str) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(raw, Mapping) and not _is_tensor_dict(raw):
            inner = next((raw[k] for k in _WRAPPER_KEYS if isinstance(raw.get(k), Mapping)), None)
            if inner is None:
                break
            raw = inner
    if not isinstance(raw, Mapping) or not _is_tensor_dict(raw):
        raise CheckpointError(
            f"checkpoint {label} holds no state dict of tensors; save model.state_dict(), "
            f"optionally under one of the keys {', '.join(_WRAPPER_KEYS)}"
        )
    return dict(raw)


def _is_tensor_dict(value: Mapping) -> bool:
    return bool(value) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def torchvision_to_edgeres(model: nn.Module) -> dict[str, str] | None:
    """Map torchvision's state-dict keys to this model's, or ``None`` when the names already agree."""
    from edgeres.models.mobilenet import MobileNetV2, MobileNetV3, torchvision_key_map

    if not isinstance(model, (MobileNetV2, MobileNetV3)):
        return None
    modules = torchvision_key_map(model)
    keys = {}
    for key in model.state_dict():
        module_path, _, leaf = key.rpartition(".")
        if module_path in modules:
            keys[f"{modules[module_path]}.{leaf}"] = key
    return keys


def load_checkpoint(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor]) -> CheckpointReport:
    """Load weights into ``model``, exactly: every key present, every shape equal.

    Args:
        model: The network to fill.
        source: A checkpoint path or a state dict.

    Returns:
        What was loaded and from which key format.

    Raises:
        CheckpointError: Unsafe or unreadable file, or keys and shapes that do not fit; the message
            lists the offending keys.
    """
    state = read_state_dict(source)
    label = "<state_dict>" if isinstance(source, Mapping) else str(source)
    expected = model.state_dict()
    key_format = "edgeres"
    mapping = torchvision_to_edgeres(model)
    if mapping is not None and not _overlaps(state, expected) and _overlaps(state, mapping):
        state = {mapping.get(key, key): value for key, value in state.items()}
        key_format = "torchvision"

    missing = [k for k in expected if k not in state]
    filled = tuple(k for k in missing if k.rsplit(".", 1)[-1] in _BOOKKEEPING)
    missing = [k for k in missing if k not in filled]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k} (checkpoint {tuple(state[k].shape)}, model {tuple(expected[k].shape)})"
        for k in expected
        if k in state and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        for title, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if keys:
                shown = ", ".join(keys[:_MAX_LISTED]) + (f", ... ({len(keys)} in all)" if len(keys) > _MAX_LISTED else "")
                parts.append(f"{title}: {shown}")
        raise CheckpointError(
            f"checkpoint {label} does not fit {type(model).__name__}: " + "; ".join(parts)
            + ". Check the model name and its overrides (num_classes, width_mult, ...)"
        )
    for key in filled:
        state[key] = expected[key]
    model.load_state_dict(state, strict=True)
    return CheckpointReport(label, key_format, len(state) - len(filled), filled)


def _overlaps(state: Mapping[str, object], keys: Mapping[str, object]) -> bool:
    # More than half of the checkpoint's keys are known: decides which key format a file uses.
    return sum(key in keys for key in state) > len(state) / 2
