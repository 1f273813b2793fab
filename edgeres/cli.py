"""The ``edgeres`` command line: thin commands that parse, call the library, print.

Every command has ``--json`` for scripts. Errors raised on purpose (:class:`EdgeresError`) print one
line and exit with status 1, without a traceback. Heavy imports happen inside the commands, so
``edgeres --help`` is fast and works without the optional packages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from edgeres import __version__
from edgeres.errors import EdgeresError
from edgeres.export.config import DEFAULT_OPSET, parse_input_shape


class _Group(click.Group):
    """A click group that turns edgeres' own errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EdgeresError as exc:
            raise click.ClickException(str(exc)) from exc


def print_json(data: object) -> None:
    """Print ``data`` as indented JSON on standard output."""
    click.echo(json.dumps(data, indent=2, default=str))


def console(stderr: bool = False):  # noqa: ANN201  (rich is imported lazily)
    """A rich console; progress and status go to standard error so ``--json`` output stays clean."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (files, CI logs, CliRunner) gets wide lines instead of rich's 80-column default,
    # so tables are never truncated.
    width = None if stream.isatty() else 200
    return Console(file=stream, width=width, highlight=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="edgeres")
def cli() -> None:
    """edgeres: residual networks from PyTorch to verified, profiled engines on edge devices."""


@cli.command("models")
@click.option("--family", help="Only this family: resnet, cifar_resnet, mobilenet_v2, mobilenet_v3.")
@click.option("--plain/--no-plain", default=True, show_default=True, help="Include the plain twins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_command(family: str | None, plain: bool, as_json: bool) -> None:
    """List the model zoo: parameters, GMACs, residual or plain, default input."""
    from edgeres.models.summary import summarize_models

    with console(stderr=True).status("counting parameters and MACs", spinner="dots"):
        rows = summarize_models(family=family, include_plain=plain)
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    from rich.table import Table

    table = Table(title="edgeres model zoo", title_justify="left")
    for header, justify in (("name", "left"), ("family", "left"), ("params", "right"), ("GMACs", "right"),
                            ("skip", "left"), ("input", "left"), ("classes", "right")):
        table.add_column(header, justify=justify)
    for row in rows:
        table.add_row(
            row.name, row.family, f"{row.params:,}", f"{row.macs / 1e9:.3f}",
            "residual" if row.residual else "plain", "x".join(map(str, row.input_shape)), str(row.num_classes),
        )
    console().print(table)


@cli.command("export")
@click.argument("model", required=False)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="The bundle directory to write.")
@click.option("--recipe", type=click.Path(path_type=Path), help="A recipe YAML (export/NAME.yaml); options given here override it.")
@click.option("--weights", type=click.Path(path_type=Path), help="Checkpoint for a registry model (.pth, .pt, .safetensors).")
@click.option("--num-classes", type=int, help="Classifier outputs (registry models).")
@click.option("--width-mult", type=float, help="Channel multiplier (MobileNets).")
@click.option("--input-shape", help="C,H,W without the batch, e.g. 3,224,224 (required for module:attr models).")
@click.option("--batch", type=int, help="Static batch size [default: 1].")
@click.option("--dynamic-batch", is_flag=True, default=None, help="Symbolic batch dimension.")
@click.option("--dynamic-hw", is_flag=True, default=None, help="Symbolic height and width too (implies --dynamic-batch).")
@click.option("--opset", type=int, help=f"ONNX opset [default: {DEFAULT_OPSET}, runs on TensorRT 8.5+, ONNX Runtime, OpenVINO].")
@click.option("--exporter", type=click.Choice(["torchscript", "dynamo"]), help="torch.onnx.export path [default: torchscript].")
@click.option("--no-simplify", is_flag=True, help="Skip the onnxslim clean-up.")
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export_command(
    model: str | None, output: Path | None, recipe: Path | None, weights: Path | None, num_classes: int | None,
    width_mult: float | None, input_shape: str | None, batch: int | None, dynamic_batch: bool | None,
    dynamic_hw: bool | None, opset: int | None, exporter: str | None, no_simplify: bool, force: bool, as_json: bool,
) -> None:
    """Export MODEL to a verified ONNX bundle.

    MODEL is a registry name (edgeres models), or package.module:attr naming an nn.Module or a function
    that returns one. Every export is checked (ONNX checker, shape inference) and compared with PyTorch
    through ONNX Runtime; a failure writes nothing.
    """
    from edgeres.export import ExportConfig, export_onnx, load_recipe, load_source

    settings = load_recipe(recipe) if recipe else None
    model = model or (settings.model if settings else None)
    if model is None:
        raise click.UsageError("give MODEL or --recipe")
    if output is None:
        raise click.UsageError("give the bundle directory with -o/--output")
    pick = lambda given, key, default=None: given if given is not None else (getattr(settings, key) if settings else default)  # noqa: E731
    shape = pick(parse_input_shape(input_shape) if input_shape else None, "input_shape")
    config = ExportConfig(
        output=output, input_shape=shape, batch=pick(batch, "batch", 1),
        dynamic_batch=bool(pick(dynamic_batch, "dynamic_batch", False)), dynamic_hw=bool(pick(dynamic_hw, "dynamic_hw", False)),
        opset=pick(opset, "opset", DEFAULT_OPSET), exporter=pick(exporter, "exporter", "torchscript"),
        simplify=not no_simplify, force=force,
    )
    from edgeres.bundle import check_output_dir

    check_output_dir(config.output, force=config.force)  # fail before the slow part
    status = console(stderr=True)
    with status.status("building the model", spinner="dots") as spinner:
        source = load_source(
            model, weights=pick(weights, "weights"), num_classes=pick(num_classes, "num_classes"),
            width_mult=pick(width_mult, "width_mult"), input_shape=shape,
        )
        if source.kind == "registry" and source.weights is None:
            status.print(f"[yellow]note:[/] no --weights given: exporting {model} with random weights")
        report = export_onnx(source, config, on_stage=lambda text: spinner.update(text))
    if as_json:
        print_json(report.to_dict())
        return
    out = console()
    out.print(f"[bold green]exported[/] {model} -> {report.onnx_path}  ({report.exporter}, opset {report.opset}, "
              f"{report.nodes} nodes{f' from {report.nodes_exported}' if report.nodes != report.nodes_exported else ''}, "
              f"{report.seconds:.1f} s)")
    out.print(f"  {report.params:,} parameters, {report.macs / 1e9:.3f} GMACs per image, sha256 {report.sha256[:16]}...")
    for result in report.parity:
        out.print(f"  parity {result.output} batch {result.batch}: max abs {result.max_abs:.2e} "
                  f"({result.max_rel:.1e} of scale {result.reference_scale:.3g}), cosine {result.cosine:.7f}  "
                  + ("[green]ok[/]" if result.passed else "[red]FAILED[/]"))


@cli.command("inspect")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--artifact", default="model.onnx", show_default=True, help="Which ONNX artifact of the bundle.")
@click.option("--batch", default=1, show_default=True, help="Batch size for the cost figures.")
@click.option("--top", type=int, help="Only the N layers with the most MACs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: manifest, layers, total.")
def inspect_command(path: Path, artifact: str, batch: int, top: int | None, as_json: bool) -> None:
    """Show a bundle's manifest and the per-layer cost of its graph (also works on a bare .onnx)."""
    from edgeres.export.inspection import inspect_path

    report = inspect_path(path, artifact=artifact, batch=batch)
    if as_json:
        print_json(report.to_dict())
        return
    from rich.table import Table

    out = console()
    manifest = report.manifest
    if manifest:
        source = manifest.get("source", {})
        out.print(f"[bold]{path}[/]: {source.get('name')} ({source.get('kind')}), "
                  f"{source.get('params', 0):,} parameters, weights: "
                  f"{(source.get('weights') or {}).get('path', 'random')}")
        for spec in manifest.get("inputs", []):
            out.print(f"  input  {spec['name']} {spec['shape']} {spec['dtype']} {spec['layout']}")
        for spec in manifest.get("outputs", []):
            out.print(f"  output {spec['name']} {spec['shape']} {spec['dtype']}")
        for name, record in manifest.get("artifacts", {}).items():
            out.print(f"  artifact {name}: {record.get('precision')} {record.get('format')}, {record.get('bytes', 0) / 1e6:.1f} MB, "
                      f"sha256 {record.get('sha256', '')[:16]}...")
    layers = list(report.costs.layers)
    if top:
        layers = sorted(layers, key=lambda layer: layer.macs, reverse=True)[:top]
    table = Table(title=f"{report.artifact}: per-layer cost at batch {batch}", title_justify="left")
    for header in ("layer", "op", "kind", "output", "MMACs", "param KB", "act in KB", "act out KB", "FLOP/B"):
        table.add_column(header, justify="left" if header in ("layer", "op", "kind", "output") else "right")
    for layer in layers:
        table.add_row(layer.name, layer.op_type, layer.kind, "x".join(map(str, layer.output_shape)),
                      f"{layer.macs / 1e6:.2f}", f"{layer.param_bytes / 1024:.1f}", f"{layer.activation_bytes_in / 1024:.1f}",
                      f"{layer.activation_bytes_out / 1024:.1f}", f"{layer.intensity:.1f}")
    totals = report.costs.totals
    table.add_section()
    table.add_row(f"total ({len(report.costs.layers)} layers)", "", "", "", f"{totals['macs'] / 1e6:.2f}",
                  f"{totals['param_bytes'] / 1024:.1f}", "", f"{totals['activation_bytes'] / 1024:.1f}", "")
    out.print(table)


def main() -> None:
    """Entry point of the ``edgeres`` console script."""
    cli(prog_name="edgeres")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
