"""The per-layer cost table: hand-checkable graphs, the zoo's totals, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from edgeres.cli import cli
from edgeres.export import ExportConfig, export_onnx, load_source
from edgeres.export.layers import layer_costs
from edgeres.models import count_macs, create_model


def tiny_graph() -> onnx.ModelProto:
    """x[1,2,4,4] -> Conv 3x3 (2->3) -> Relu -> GlobalAveragePool -> Flatten -> Gemm (3->5)."""
    w = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    fc = numpy_helper.from_array(np.ones((5, 3), np.float32), "fc")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 5])], [w, b, fc])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_costs_of_a_hand_checkable_graph() -> None:
    table = layer_costs(tiny_graph())
    layers = {layer.name: layer for layer in table.layers}
    assert set(layers) == {"conv", "relu", "pool", "fc"}  # Flatten moves no data worth listing
    conv = layers["conv"]
    assert conv.macs == 3 * 4 * 4 * 2 * 9 == 864 and conv.kind == "conv"
    assert conv.params == 54 + 3 and conv.param_bytes == 57 * 4
    assert conv.activation_bytes_in == 2 * 16 * 4 and conv.activation_bytes_out == 3 * 16 * 4
    assert conv.intensity == pytest.approx(2 * 864 / (228 + 128 + 192), abs=1e-3)
    assert layers["fc"].macs == 15 and layers["fc"].kind == "matmul"
    assert table.totals == {"macs": 879, "params": 72, "param_bytes": 288, "activation_bytes": 192 + 192 + 12 + 20}
    assert layer_costs(tiny_graph(), batch=2).totals["macs"] == 2 * 879


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_large", "resnet18", "resnext50_32x4d", "resnet56"])
def test_zoo_totals_agree_with_count_macs(tmp_path: Path, name: str) -> None:
    source = load_source(name)
    export_onnx(source, ExportConfig(output=tmp_path / name))
    table = layer_costs(tmp_path / name / "model.onnx")
    shape = (1, *source.input_spec.shape)
    assert table.totals["macs"] == count_macs(create_model(name), shape)
    kinds = {layer.kind for layer in table.layers}
    if name.startswith("mobilenet"):
        assert {"depthwise_conv", "pointwise_conv"} <= kinds


def test_inspect_cli_table_and_json(tmp_path: Path) -> None:
    export_onnx(load_source("resnet20"), ExportConfig(output=tmp_path / "r20"))
    runner = CliRunner()
    result = runner.invoke(cli, ["inspect", str(tmp_path / "r20")])
    assert result.exit_code == 0, result.output
    assert "/layer1/layer1.0/conv1/Conv" in result.output and "total" in result.output
    data = json.loads(runner.invoke(cli, ["inspect", str(tmp_path / "r20"), "--json"]).stdout)
    assert {"manifest", "layers", "total"} <= set(data)
    assert set(data["total"]) >= {"macs", "params", "param_bytes", "activation_bytes"}
    assert data["total"]["macs"] == count_macs(create_model("resnet20"), (1, 3, 32, 32))
    assert data["manifest"]["source"]["name"] == "resnet20"
    assert {"name", "op_type", "output_shape", "macs", "param_bytes", "activation_bytes_in",
            "activation_bytes_out", "intensity"} <= set(data["layers"][0])
    bare = json.loads(runner.invoke(cli, ["inspect", str(tmp_path / "r20" / "model.onnx"), "--json"]).stdout)
    assert bare["manifest"] is None and bare["total"] == data["total"]
    top = runner.invoke(cli, ["inspect", str(tmp_path / "r20"), "--top", "3"])
    assert top.exit_code == 0 and top.output.count("/Conv") == 3
    missing = runner.invoke(cli, ["inspect", str(tmp_path / "nothing")])
    assert missing.exit_code == 1 and "does not exist" in missing.output
    assert "has no artifact 'model.int8.onnx'" in runner.invoke(cli, ["inspect", str(tmp_path / "r20"), "--artifact", "model.int8.onnx"]).output
