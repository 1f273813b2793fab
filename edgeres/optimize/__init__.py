"""Optimization backends behind one small interface: ONNX Runtime now (FP16, INT8 QDQ), TensorRT later.

``edgeres.optimize.calibration`` holds the data readers; ``edgeres.optimize.ort`` the ONNX Runtime
backend; both import no torch.
"""

from edgeres.optimize.config import CalibrationMethod, OptimizeConfig, QuantConfig, Target

__all__ = ["CalibrationMethod", "OptimizeConfig", "QuantConfig", "Target"]
