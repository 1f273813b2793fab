"""The model zoo: residual networks built from :mod:`edgeres.blocks`, and their plain twins.

>>> from edgeres.models import create_model, list_models
>>> model = create_model("resnet18")                 # torchvision's ResNet-18
>>> plain = create_model("plain_resnet18")           # the same layers, no skip connections
"""

from edgeres.models import mobilenet as _mobilenet  # noqa: F401  (registers the MobileNets)
from edgeres.models import resnet as _resnet  # noqa: F401  (registers the ResNets)
from edgeres.models.checkpoint import CheckpointReport, load_checkpoint, read_state_dict
from edgeres.models.cost import count_macs, count_params
from edgeres.models.mobilenet import MobileNetV2, MobileNetV3, torchvision_key_map
from edgeres.models.registry import (
    InputSpec,
    ModelInfo,
    create_model,
    default_input_spec,
    get_model_info,
    list_models,
    register_model,
)
from edgeres.models.resnet import CifarResNet, ResNet

__all__ = [
    "CheckpointReport",
    "CifarResNet",
    "InputSpec",
    "MobileNetV2",
    "MobileNetV3",
    "ModelInfo",
    "ResNet",
    "count_macs",
    "count_params",
    "create_model",
    "default_input_spec",
    "get_model_info",
    "list_models",
    "load_checkpoint",
    "read_state_dict",
    "register_model",
    "torchvision_key_map",
]
