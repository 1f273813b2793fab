#!/usr/bin/env bash
# Every check that needs an NVIDIA GPU or TensorRT, in one run. On a machine with a GPU:
#   bash benchmarks/gpu_check.sh
# It runs the tests marked gpu/tensorrt (skipped elsewhere) and a PyTorch-CUDA sanity check of the zoo.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || { echo "no NVIDIA GPU here"; exit 1; }
python - <<'PY'
import torch
from edgeres.models import create_model
assert torch.cuda.is_available(), "PyTorch sees no CUDA device"
print("torch", torch.__version__, "on", torch.cuda.get_device_name(0))
for name in ("resnet50", "mobilenet_v2", "mobilenet_v3_large"):
    model = create_model(name).eval().cuda()
    x = torch.randn(8, 3, 224, 224, device="cuda")
    with torch.inference_mode():
        cpu = create_model(name).eval()
        cpu.load_state_dict(model.state_dict())
        diff = (model(x).cpu() - cpu(x.cpu())).abs().max().item()
    print(f"{name}: CUDA vs CPU max abs diff {diff:.2e}")
PY
python -m pytest -m "gpu or tensorrt" -ra || [ $? -eq 5 ]  # 5: no such tests selected
