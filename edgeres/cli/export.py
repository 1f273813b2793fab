"""``edgeres export``, ``optimize`` and ``inspect``: bundles made, extended and read."""

from __future__ import annotations

from pathlib import Path

import click

from edgeres.cli.app import cli, console, print_json
from edgeres.export.config import DEFAULT_OPSET, parse_input_shape


def optimize_options(command):  # noqa: ANN001, ANN201
    """The options of the optimize stage, shared by ``export`` and ``optimize``."""
    options = [
        click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), help="Precision of the deployed artifact [default: fp32]."),
        click.option("--target", type=click.Choice(["cpu", "tensorrt"]), help="Where it runs; decides the INT8 format [default: cpu]."),
        click.option("--calib", help="INT8 calibration data: image folder, .npy/.npz, IDX file, or 'random'."),
        click.option("--eval", "eval_data", help="Evaluation data (labelled: top-1/top-5; else agreement with FP32)."),
        click.option("--max-accuracy-drop", type=float, help="INT8 may lose at most this many top-1 points; sensitive layers stay float."),
        click.option("--calib-method", type=click.Choice(["minmax", "entropy", "percentile"]), default="minmax", show_default=True),
        click.option("--activation-type", type=click.Choice(["uint8", "int8"]), help="INT8 activations [default: uint8 for cpu, int8 for tensorrt]."),
        click.option("--calib-limit", type=int, default=512, show_default=True, help="Use at most this many calibration samples."),
        click.option("--force-small-calib", is_flag=True, help="Accept fewer calibration samples than the minimum (32)."),
        click.option("--exclude", multiple=True, help="Keep this node in float (repeatable; names from 'edgeres inspect')."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _optimize_config(precision, target, calib, eval_data, max_accuracy_drop, calib_method, activation_type,  # noqa: ANN001, ANN202
                     calib_limit, force_small_calib, exclude, force):
    from edgeres.optimize import OptimizeConfig, QuantConfig

    return OptimizeConfig(
        precision=precision, target=target or "cpu", calib=calib, eval=eval_data, calib_limit=calib_limit,
        allow_small_calib=force_small_calib, max_accuracy_drop=max_accuracy_drop, force=force,
        quant=QuantConfig(method=calib_method, activation_type=activation_type, exclude=tuple(exclude)),
    )


def _run_optimize(bundle_dir: Path, config, as_json: bool) -> None:  # noqa: ANN001
    from edgeres.optimize.ort import optimize_bundle

    status = console(stderr=True)
    with status.status("optimizing", spinner="dots") as spinner:
        report = optimize_bundle(bundle_dir, config, on_stage=lambda text: spinner.update(text))
    for note in report.warnings:
        status.print(f"[bold yellow]warning:[/] {note}")
    if as_json:
        print_json(report.to_dict())
        return
    out = console()
    settings = report.record.get("quantization") or report.record.get("conversion")
    out.print(f"[bold green]optimized[/] {bundle_dir / report.artifact}  ({report.precision.value}, target {report.target.value}, "
              f"{report.record['bytes'] / 1e6:.1f} MB, {report.seconds:.1f} s)")
    if report.record.get("quantization"):
        q = settings
        out.print(f"  {q['format']} activations {q['activation_type']} weights int8 per-channel={q['per_channel']} "
                  f"reduce_range={q['reduce_range']}; calibration {q['calibration']['method']} on {q['calibration']['samples']} "
                  f"samples from {q['calibration']['source']}")
    accuracy = report.accuracy
    if accuracy is None:
        out.print("  [bold yellow]accuracy: unknown[/] (no real evaluation data)")
    else:
        if accuracy.labelled:
            line = f"  top-1 {accuracy.top1:.2f}% (FP32 {accuracy.fp32_top1:.2f}%, drop {accuracy.top1_drop:+.2f} pts)"
            if accuracy.top5 is not None:
                line += f", top-5 {accuracy.top5:.2f}% (FP32 {accuracy.fp32_top5:.2f}%)"
            out.print(line)
        out.print(f"  agreement with FP32: top-1 {accuracy.agreement:.1f}%, FP32 class in top-5 {accuracy.top5_agreement:.1f}%, "
                  f"cosine mean {accuracy.cosine_mean:.4f} (min {accuracy.cosine_min:.4f}) on {accuracy.samples} samples")
    if report.float_layers:
        out.print(f"  kept in float to meet the budget ({len(report.float_layers)} layers): "
                  + ", ".join(layer.name for layer in report.float_layers[:8]) + (" ..." if len(report.float_layers) > 8 else ""))
        out.print("  fallback steps (layers in float -> drop): " + ", ".join(f"{n} -> {d:.2f}" for n, d in report.fallback_steps))


@cli.command("optimize")
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@optimize_options
@click.option("--force", is_flag=True, help="Replace an existing artifact of the same precision.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def optimize_command(bundle_dir: Path, precision: str | None, target: str | None, calib: str | None, eval_data: str | None,
                     max_accuracy_drop: float | None, calib_method: str, activation_type: str | None, calib_limit: int,
                     force_small_calib: bool, exclude: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Add an FP16 or INT8 artifact to a bundle, with its accuracy measured against FP32."""
    if precision in (None, "fp32"):
        raise click.UsageError("give --precision fp16 or int8 (fp32 is the exported model.onnx)")
    config = _optimize_config(precision, target, calib, eval_data, max_accuracy_drop, calib_method, activation_type,
                              calib_limit, force_small_calib, exclude, force)
    _run_optimize(bundle_dir, config, as_json)


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
@optimize_options
@click.option("--force", is_flag=True, help="Replace an existing bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export_command(
    model: str | None, output: Path | None, recipe: Path | None, weights: Path | None, num_classes: int | None,
    width_mult: float | None, input_shape: str | None, batch: int | None, dynamic_batch: bool | None,
    dynamic_hw: bool | None, opset: int | None, exporter: str | None, no_simplify: bool, precision: str | None,
    target: str | None, calib: str | None, eval_data: str | None, max_accuracy_drop: float | None, calib_method: str,
    activation_type: str | None, calib_limit: int, force_small_calib: bool, exclude: tuple[str, ...], force: bool,
    as_json: bool,
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

    precision = pick(precision, "precision", "fp32")
    precision = getattr(precision, "value", precision)
    optimize = None
    if precision != "fp32":
        optimize = _optimize_config(
            precision, pick(target, "target", "cpu"), pick(calib, "calib"), pick(eval_data, "eval"),
            pick(max_accuracy_drop, "max_accuracy_drop"), calib_method, activation_type, calib_limit, force_small_calib,
            exclude, False,
        )
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
    if optimize is not None and not as_json:
        _print_export(model, report)
    if optimize is not None:
        _run_optimize(config.output, optimize, as_json)
        return
    if as_json:
        print_json(report.to_dict())
        return
    _print_export(model, report)


def _print_export(model: str, report) -> None:  # noqa: ANN001
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
