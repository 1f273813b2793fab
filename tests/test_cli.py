"""The command line, through click's CliRunner."""

from __future__ import annotations

import json

from click.testing import CliRunner

from edgeres import __version__
from edgeres.cli import cli


def test_version_and_help() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.strip() == f"edgeres, version {__version__}"
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0 and "models" in result.output


def test_models_table_lists_the_zoo_with_figures() -> None:
    result = CliRunner().invoke(cli, ["models", "--family", "mobilenet_v2"])
    assert result.exit_code == 0, result.output
    assert "mobilenet_v2" in result.output and "3,504,872" in result.output and "0.301" in result.output
    assert "plain_mobilenet_v2" in result.output and "plain" in result.output


def test_models_json() -> None:
    result = CliRunner().invoke(cli, ["models", "--json", "--no-plain", "--family", "resnet"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["resnet50"]["params"] == 25_557_032
    assert round(rows["resnet50"]["macs"] / 1e9, 3) == 4.089
    assert rows["resnet50"]["input_shape"] == [3, 224, 224] and rows["resnet50"]["residual"] is True
    assert all(row["residual"] for row in rows.values())


def test_errors_are_one_line_without_traceback() -> None:
    result = CliRunner().invoke(cli, ["models", "--family", "vgg"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: unknown model family 'vgg'; choose one of cifar_resnet, mobilenet_v2, mobilenet_v3, resnet"
    )
    assert "Traceback" not in result.output
