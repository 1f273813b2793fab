"""Optional dependencies: imported where used, with one clear error when missing.

Backends own their heavy imports (tensorrt, openvino, matplotlib, paramiko). They call
:func:`require` instead of ``import`` so that a missing package names the extra that installs it.
Nothing is ever installed automatically.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from edgeres.errors import MissingDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import an optional module, or explain how to install it.

    Args:
        module: The module to import, e.g. ``"tensorrt"``.
        extra: The edgeres extra that installs it, e.g. ``"tensorrt"``.

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"this needs the optional package '{module}', which is not installed "
            f"({exc}); install it with: pip install 'edgeres[{extra}]'"
        ) from exc


def is_installed(module: str) -> bool:
    """Whether an optional module can be imported, without importing it."""
    return importlib.util.find_spec(module) is not None
