"""edgeres: residual networks from PyTorch to verified, profiled engines on edge hardware.

Importing the package is cheap: it loads neither torch, onnxruntime nor tensorrt. The stages live in
submodules (``edgeres.models``, ``edgeres.export``, ``edgeres.runtime``, ...), imported when used.
"""

__version__ = "0.1.0"

from edgeres.errors import EdgeresError

__all__ = ["EdgeresError", "__version__"]
