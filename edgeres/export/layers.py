"""Per-layer cost of any ONNX graph: MACs, parameter and activation bytes, arithmetic intensity.

Computed from the graph itself (shape inference), so it works for any ONNX file, not only the zoo's,
and for quantized graphs: a weight stored as INT8 behind a DequantizeLinear counts as INT8 bytes for
the layer that consumes it. This table is what ``edgeres inspect`` prints and what the latency
estimator reads. No torch here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx
from onnx import helper, shape_inference

from edgeres.errors import VerificationError

# Ops that only move or reinterpret data and cost nothing worth listing.
_FREE_OPS = {"Constant", "Identity", "Shape", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
_POOL_OPS = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean"}


@dataclass(frozen=True)
class LayerCost:
    """One node of the graph and what it costs for the inferred input shape.

    Attributes:
        name: Node name (``/layer1/layer1.0/conv1/Conv`` for edgeres exports).
        op_type: ONNX operator.
        kind: ``conv``, ``depthwise_conv``, ``pointwise_conv``, ``matmul``, ``pool``, ``elementwise``,
            ``quantize`` or ``other``: the classes the estimator has separate efficiencies for.
        output_shape: Shape of the first output.
        macs: Multiply-accumulates (conv, matmul, gemm); 0 for other ops.
        params: Parameter elements the node reads from initializers.
        param_bytes: Bytes of those parameters, in their stored type.
        activation_bytes_in: Bytes of the non-parameter inputs.
        activation_bytes_out: Bytes of the outputs.
        intensity: Arithmetic intensity, FLOPs (2 per MAC) per byte moved; 0 without MACs.
    """

    name: str
    op_type: str
    kind: str
    output_shape: tuple[int, ...]
    macs: int
    params: int
    param_bytes: int
    activation_bytes_in: int
    activation_bytes_out: int
    intensity: float

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class CostTable:
    """The per-layer costs of a graph, in execution order, and their totals."""

    layers: tuple[LayerCost, ...]
    input_shapes: dict[str, tuple[int, ...]]

    @property
    def totals(self) -> dict[str, int]:
        """``macs``, ``params``, ``param_bytes``, ``activation_bytes`` (written by all layers), summed."""
        return {
            "macs": sum(layer.macs for layer in self.layers),
            "params": sum(layer.params for layer in self.layers),
            "param_bytes": sum(layer.param_bytes for layer in self.layers),
            "activation_bytes": sum(layer.activation_bytes_out for layer in self.layers),
        }

    def to_dict(self) -> dict:
        """A JSON-ready dict with ``layers``, ``total`` and ``input_shapes``."""
        return {
            "input_shapes": {k: list(v) for k, v in self.input_shapes.items()},
            "layers": [layer.to_dict() for layer in self.layers],
            "total": self.totals,
        }


def layer_costs(
    model: onnx.ModelProto | str | Path,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    *,
    batch: int = 1,
) -> CostTable:
    """The per-layer cost table of an ONNX model.

    Args:
        model: The model or its path.
        input_shapes: Concrete shapes for graph inputs with symbolic dimensions other than the batch.
        batch: The value of a symbolic first (batch) dimension.

    Returns:
        One :class:`LayerCost` per node that does work, in graph order.

    Raises:
        VerificationError: Shapes cannot be inferred (a symbolic dimension without a value).
    """
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(str(model), load_external_data=False)
    model = _with_concrete_inputs(model, dict(input_shapes or {}), batch)
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    graph = inferred.graph
    initializers = {init.name: init for init in graph.initializer}
    infos: dict[str, tuple[tuple[int, ...], int]] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        shape = _static_shape(value)
        if shape is not None:
            infos[value.name] = (shape, value.type.tensor_type.elem_type)
    for init in initializers.values():
        infos[init.name] = (tuple(init.dims), init.data_type)
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    infos[node.output[0]] = (tuple(attr.t.dims), attr.t.data_type)
                    initializers[node.output[0]] = attr.t

    # A DequantizeLinear of an initializer is a stored (quantized) weight: charge it to its consumer.
    weight_of = {
        node.output[0]: node.input[0]
        for node in graph.node
        if node.op_type == "DequantizeLinear" and node.input[0] in initializers
    }
    quantized_weights = set(weight_of)

    layers = []
    for node in graph.node:
        if node.op_type in _FREE_OPS or (node.op_type == "DequantizeLinear" and node.output[0] in quantized_weights):
            continue
        params = param_bytes = act_in = 0
        for name in node.input:
            if not name:
                continue
            stored = weight_of.get(name, name)
            if stored in initializers:
                shape, dtype = infos[stored]
                params += math.prod(shape)
                param_bytes += _nbytes(shape, dtype)
            elif name in infos:
                act_in += _nbytes(*infos[name])
        outputs = [infos[o] for o in node.output if o in infos]
        if not outputs:
            raise VerificationError(
                f"cannot infer the output shape of node {node.name or node.op_type}; give concrete input shapes"
            )
        act_out = sum(_nbytes(*o) for o in outputs)
        out_shape = outputs[0][0]
        macs, kind = _macs_and_kind(node, infos, weight_of, out_shape)
        moved = param_bytes + act_in + act_out
        intensity = 2 * macs / moved if macs and moved else 0.0
        layers.append(
            LayerCost(node.name or f"{node.op_type}_{len(layers)}", node.op_type, kind, out_shape, macs,
                      params, param_bytes, act_in, act_out, round(intensity, 3))
        )
    concrete = {i.name: _static_shape(i) for i in model.graph.input if i.name not in initializers}
    return CostTable(tuple(layers), {k: v for k, v in concrete.items() if v is not None})


def _macs_and_kind(node, infos, weight_of, out_shape) -> tuple[int, str]:  # noqa: ANN001
    op = node.op_type
    out_numel = math.prod(out_shape)
    if op in ("Conv", "QLinearConv", "ConvInteger"):
        w_name = node.input[3] if op == "QLinearConv" else node.input[1]
        w_shape = infos[weight_of.get(w_name, w_name)][0]
        group = _attr(node, "group", 1)
        kernel = math.prod(w_shape[2:])
        macs = out_numel * w_shape[1] * kernel
        if group > 1 and w_shape[1] == 1:
            return macs, "depthwise_conv"
        if kernel == 1 and group == 1:
            return macs, "pointwise_conv"
        return macs, "conv"
    if op == "ConvTranspose":
        w_shape = infos[weight_of.get(node.input[1], node.input[1])][0]
        in_numel = math.prod(infos[node.input[0]][0])
        return in_numel * w_shape[1] * math.prod(w_shape[2:]), "conv"
    if op in ("Gemm", "MatMul", "QLinearMatMul", "MatMulInteger"):
        a_name = node.input[0]
        a_shape = infos[weight_of.get(a_name, a_name)][0]
        k = a_shape[0] if op == "Gemm" and _attr(node, "transA", 0) else a_shape[-1]
        return out_numel * k, "matmul"
    if op in _POOL_OPS:
        return 0, "pool"
    if op in ("QuantizeLinear", "DequantizeLinear"):
        return 0, "quantize"
    if op in ("Relu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "Add", "Mul", "Sub", "Div", "Sum", "Cast",
              "Concat", "Pad", "Slice", "Softmax", "LeakyRelu", "PRelu", "Tanh", "Erf", "BatchNormalization"):
        return 0, "elementwise"
    return 0, "other"


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def _static_shape(value: onnx.ValueInfoProto) -> tuple[int, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    dims = []
    for dim in tensor.shape.dim:
        if not dim.HasField("dim_value"):
            return None
        dims.append(dim.dim_value)
    return tuple(dims)


def _nbytes(shape: tuple[int, ...], dtype: int) -> int:
    itemsize = helper.tensor_dtype_to_np_dtype(dtype).itemsize if dtype else 4
    return math.prod(shape) * itemsize


def _with_concrete_inputs(model: onnx.ModelProto, shapes: dict[str, tuple[int, ...]], batch: int) -> onnx.ModelProto:
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for graph_input in model.graph.input:
        dims = graph_input.type.tensor_type.shape.dim
        given = shapes.get(graph_input.name)
        if given is not None:
            if len(given) != len(dims):
                raise VerificationError(
                    f"input {graph_input.name} has {len(dims)} dimensions, the given shape {tuple(given)} has {len(given)}"
                )
            for dim, value in zip(dims, given):
                dim.Clear()
                dim.dim_value = int(value)
            continue
        for index, dim in enumerate(dims):
            if not dim.HasField("dim_value"):
                if index != 0:
                    raise VerificationError(
                        f"input {graph_input.name} has a symbolic dimension {dim.dim_param or index!r} "
                        "besides the batch; give its concrete shape (--input-shape)"
                    )
                dim.Clear()
                dim.dim_value = batch
    # Intermediate shapes recorded at export time may carry symbolic batch dims; infer afresh.
    del model.graph.value_info[:]
    return model
