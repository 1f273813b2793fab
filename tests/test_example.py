"""The example app embeds a bundle with edgeres.runtime only: it runs, classifies, and never loads torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from edgeres.export import ExportConfig, export_onnx, load_source

ROOT = Path(__file__).resolve().parents[1]


def test_example_app_classifies_without_torch(tmp_path: Path) -> None:
    export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "bundle"))
    image = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(image)
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['classify.py', {str(tmp_path / 'bundle')!r}, {str(image)!r}, '--top', '3']\n"
        f"runpy.run_path({str(ROOT / 'examples' / 'classify.py')!r}, run_name='__main__')\n"
        "print('torch loaded:', 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"{image}: class ") and lines[0].count("class ") == 3
    assert lines[-1] == "torch loaded: False"


def test_example_app_refuses_a_modified_artifact(tmp_path: Path) -> None:
    export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "bundle"))
    with open(tmp_path / "bundle" / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "classify.py"), str(tmp_path / "bundle"), "x.png"],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "modified after edgeres wrote it" in result.stderr
