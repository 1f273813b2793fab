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


@cli.command("profile")
@click.argument("target")
@click.option("--artifact", default="all", show_default=True, help="An artifact file name, or 'all' to compare every one.")
@click.option("--backend", default="ort", show_default=True, help="ort (ONNX Runtime), openvino, or torch (the PyTorch baseline).")
@click.option("--device", default="cpu", show_default=True, help="cpu (cuda/tensorrt with onnxruntime-gpu).")
@click.option("--batch", default="1", show_default=True, help="Batch sizes, comma-separated (e.g. 1,8).")
@click.option("--threads", type=int, default=0, help="Intra-op threads [default: the backend's choice].")
@click.option("--warmup", type=int, help="Warm-up calls [default: until the median is stable].")
@click.option("--iters", type=int, default=100, show_default=True, help="Timed calls per batch size.")
@click.option("--layers", "layers_top", type=int, default=0, help="Also profile per layer (ONNX Runtime) and show the N slowest.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), help="Write the results as CSV.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), help="Write a PNG (needs edgeres[plot]).")
@click.option("--no-save", is_flag=True, help="Do not save the run under DIR/profiles/.")
@click.option("--estimate", is_flag=True, help="Predict latency on --device from the catalog instead of measuring.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True, help="With --estimate.")
@click.option("--power-mode", help="With --estimate: a Jetson power mode (default: the fastest).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per artifact and batch size.")
def profile_command(target: str, artifact: str, backend: str, device: str, batch: str, threads: int, warmup: int | None,
                    iters: int, layers_top: int, csv_path: Path | None, plot_path: Path | None, no_save: bool, estimate: bool,
                    precision: str, power_mode: str | None, as_json: bool) -> None:
    """Measure latency of a bundle's artifacts (DIR) or a zoo model (MODEL, exported on the fly).

    Warm-up runs until the median latency is stable, then timed calls give min/mean/percentiles,
    throughput and peak memory, with a stability verdict; every run is saved in the bundle.
    """
    import tempfile

    from edgeres.profile.latency import ProfileConfig
    from edgeres.profile.run import profile_bundle

    try:
        batches = tuple(int(b) for b in batch.split(",") if b.strip())
    except ValueError:
        raise click.UsageError(f"--batch takes integers separated by commas, got {batch!r}") from None
    from edgeres.devices.detect import resolve_device

    device = resolve_device(device)
    if estimate:
        _print_estimate(target, device, precision, power_mode, batches[0], threads, as_json)
        return
    if device not in ("cpu", "cuda", "tensorrt"):
        raise click.UsageError(
            f"cannot run on {device} from this machine; add --estimate to predict its latency "
            "(profiling on a remote board over SSH is not built yet)"
        )
    config = ProfileConfig(batch_sizes=batches, warmup=warmup, iters=iters)
    status = console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="edgeres-profile-") as scratch:
        bundle_dir = Path(target)
        if not bundle_dir.is_dir():
            from edgeres.export import ExportConfig, export_onnx, load_source

            with status.status(f"exporting {target} to profile it", spinner="dots"):
                source = load_source(target)
                export_onnx(source, ExportConfig(output=Path(scratch) / "bundle", dynamic_batch=max(batches) > 1))
            bundle_dir = Path(scratch) / "bundle"
        from rich.progress import BarColumn, Progress, TextColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      console=status, transient=True) as bar:
            task = bar.add_task("profiling", total=iters)
            run = profile_bundle(
                bundle_dir, config, artifacts=None if artifact == "all" else [artifact], backend=backend, device=device,
                threads=threads, save=not no_save and bundle_dir == Path(target),
                on_progress=lambda phase, done, total: bar.update(task, description=phase, completed=done, total=total),
            )
        layer_tables = {}
        if layers_top:
            from edgeres.bundle import Bundle
            from edgeres.export.layers import layer_costs
            from edgeres.profile.layers import profile_layers

            bundle = Bundle.open(bundle_dir)
            for row in run.rows:
                if row["backend"] == "onnxruntime" and row["artifact"] not in layer_tables:
                    path = bundle.verified_path(row["artifact"])
                    shape = (row["batch"], *bundle.manifest["inputs"][0]["example_shape"])
                    layer_tables[row["artifact"]] = profile_layers(path, layer_costs(path, {"input": shape}), batch=row["batch"], threads=threads)
        if csv_path:
            from edgeres.profile.run import write_csv

            write_csv(run.rows, csv_path)
        if plot_path:
            from edgeres.profile.plot import plot_profile

            plot_profile(run.reports, run.rows, plot_path)
    if as_json:
        print_json(run.rows if not layers_top else [
            {**row, "layers": [t.to_dict() for t in layer_tables.get(row["artifact"], [])[:layers_top]]} for row in run.rows
        ])
        return
    _print_profile(run, layer_tables, layers_top)


def _print_estimate(target: str, device: str, precision: str, power_mode: str | None, batch: int, threads: int, as_json: bool) -> None:
    from edgeres.profile.estimate import estimate_latency

    throughput = None
    if device == "cpu":
        from edgeres.precision import Precision
        from edgeres.profile.calibrate import load_calibration

        throughput = load_calibration(threads).throughput(Precision.parse(precision))
    report = estimate_latency(Path(target), device, precision, power_mode, batch=batch, throughput=throughput)
    if as_json:
        print_json(report.to_dict())
        return
    from rich.table import Table

    out = console()
    latency = report.latency_ms
    mode = f", power mode {report.power_mode}" if report.power_mode else ""
    out.print(f"[bold yellow]ESTIMATE[/] (not a measurement) for {target} on [bold]{report.device}[/]{mode}, {report.precision}, batch {batch}: "
              f"[bold]{latency['value']:.2f} ms[/] (likely {latency['low']:.2f}-{latency['high']:.2f} ms)")
    assumptions = report.assumptions
    out.print(f"  from {assumptions['source']}: effective GOP/s {assumptions['effective_gops']}, "
              f"bandwidth {assumptions['effective_bandwidth_gbs']} GB/s, {assumptions['layer_overhead_us']} us per layer")
    table = Table(title="slowest layers (estimated)", title_justify="left")
    for header in ("layer", "kind", "MMACs", "KB moved", "compute ms", "memory ms", "ms", "bound"):
        table.add_column(header, justify="left" if header in ("layer", "kind", "bound") else "right")
    for layer in report.top(10):
        table.add_row(layer.name, layer.kind, f"{layer.macs / 1e6:.1f}", f"{layer.bytes_moved / 1024:.0f}", f"{layer.compute_ms:.3f}",
                      f"{layer.memory_ms:.3f}", f"{layer.time_ms:.3f}", layer.bound)
    out.print(table)


def _print_profile(run, layer_tables: dict, layers_top: int) -> None:  # noqa: ANN001
    from rich.table import Table

    out = console()
    cpu = run.host["cpu"]
    out.print(f"[bold]{cpu['model']}[/], {cpu['logical_cores']} logical cores, flags {' '.join(cpu['flags']) or '-'}; "
              f"{run.host['os']}")
    table = Table(title="latency per call (ms)", title_justify="left")
    for header in ("artifact", "precision", "backend / provider", "batch", "threads", "p50", "mean", "p90", "p99", "min",
                   "max", "items/s", "RSS MB", "speed vs 1st", "accuracy vs FP32", "verdict"):
        table.add_column(header, justify="left" if header in ("artifact", "precision", "backend / provider", "accuracy vs FP32", "verdict") else "right")
    first = {}
    for row in run.rows:
        base = first.setdefault(row["batch"], row["latency_ms"]["p50"])
        accuracy = row.get("accuracy")
        if accuracy and accuracy.get("top1_drop") is not None:
            acc = f"top-1 {-accuracy['top1_drop']:+.2f} pts"
        elif accuracy and accuracy.get("agreement") is not None:
            acc = f"agree {accuracy['agreement']:.1f}%"
        else:
            acc = "reference" if row["artifact"] in ("model.onnx", "pytorch") else "unknown"
        lat = row["latency_ms"]
        table.add_row(row["artifact"], row["precision"], f"{row['backend']} / {row['provider']}", str(row["batch"]),
                      str(row["threads"] or "auto"), f"{lat['p50']:.2f}", f"{lat['mean']:.2f}", f"{lat['p90']:.2f}",
                      f"{lat['p99']:.2f}", f"{lat['min']:.2f}", f"{lat['max']:.2f}", f"{row['throughput_ips']:.1f}",
                      f"{row['peak_rss_mb']:.0f}", f"{base / lat['p50']:.2f}x", acc,
                      "[green]stable[/]" if row["stable"] else f"[red]NOISY (CV {row['cv']:.0%})[/]")
    out.print(table)
    for row in run.rows:
        if not row["stable"]:
            out.print(f"[red]{row['artifact']} batch {row['batch']}: {row['verdict']}[/]")
    for name, timings in layer_tables.items():
        layers = Table(title=f"{name}: slowest layers (ONNX Runtime profiler)", title_justify="left")
        for header in ("kernel", "op", "layer", "ms", "share", "MMACs", "GMAC/s"):
            layers.add_column(header, justify="right" if header in ("ms", "share", "MMACs", "GMAC/s") else "left")
        for timing in timings[:layers_top]:
            layers.add_row(timing.kernel, timing.op_type, timing.layer or "-", f"{timing.time_ms:.3f}", f"{timing.share:.1%}",
                           f"{timing.macs / 1e6:.1f}", f"{timing.gmacs_per_s:.1f}")
        out.print(layers)
    if run.saved:
        out.print(f"saved {run.saved}")


@cli.group("devices", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def devices_group(ctx: click.Context, as_json: bool) -> None:
    """The device catalog: Jetson boards, GPUs and CPUs with their published specs and sources."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from edgeres.devices.catalog import load_catalog

    catalog = load_catalog()
    if as_json:
        print_json([device.to_dict() for device in catalog.values()])
        return
    table = Table(title="edgeres device catalog (dense peaks; NVIDIA's Orin TOPS are sparse and include DLAs)", title_justify="left")
    for header in ("name", "family", "arch", "CC", "FP32 TFLOPS", "FP16 TFLOPS", "INT8 TOPS", "DLA", "memory", "GB/s", "power modes", "source"):
        table.add_column(header, justify="right" if "FLOPS" in header or "TOPS" in header or header in ("DLA", "GB/s") else "left")
    for device in catalog.values():
        peak = lambda key: "-" if device.peaks.get(key) is None else f"{device.peaks[key] / 1e12:.2f}"  # noqa: E731
        table.add_row(device.name, device.family, device.architecture, device.compute_capability or "-", peak("fp32"), peak("fp16"),
                      peak("int8"), str(device.dla_count), f"{device.memory_bytes / 1e9:.0f} GB", f"{device.memory_bandwidth / 1e9:.1f}",
                      ", ".join(m.name for m in device.power_modes) or "-", next(iter(device.sources.values())).split(":")[0])
    console().print(table)


@devices_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices_show(name: str, as_json: bool) -> None:
    """One device with every figure and its source."""
    from edgeres.devices.catalog import get_device

    device = get_device(name)
    data = device.to_dict()
    if as_json:
        print_json(data)
        return
    out = console()
    out.print(f"[bold]{device.name}[/]: {device.description} ({device.file.name})")
    for key, value in data.items():
        if key not in ("name", "description", "sources", "power_modes"):
            out.print(f"  {key}: {value}")
    for mode in device.power_modes:
        out.print(f"  power mode {mode.name} (nvpmodel -m {mode.nvpmodel_id}): GPU {mode.gpu_clock_hz / 1e6:.0f} MHz, {mode.power_w:.0f} W")
    out.print("  sources:")
    for key, source in device.sources.items():
        out.print(f"    {key}: {source}")


@devices_group.command("detect")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices_detect(as_json: bool) -> None:
    """What this machine is: a Jetson (which), an NVIDIA GPU, or a CPU with its flags."""
    from edgeres.devices.detect import detect

    found = detect()
    if as_json:
        print_json(found.to_dict())
        return
    console().print(f"{found.kind}: {found.name}{' (in the catalog)' if found.catalog else ''}\n  {found.details}")


@devices_group.command("calibrate")
@click.option("--device", default="cpu", show_default=True, help="Only the local CPU can be calibrated here.")
@click.option("--threads", type=int, default=0, help="Threads to calibrate for (match what you profile with).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def devices_calibrate(device: str, threads: int, as_json: bool) -> None:
    """Fit the latency estimator to this CPU with micro-benchmarks (convolutions, matmuls, elementwise)."""
    if device != "cpu":
        raise click.UsageError("only --device cpu can be calibrated on this machine; NVIDIA factors come from the catalog")
    from edgeres.profile.calibrate import calibrate_cpu, calibration_path

    status = console(stderr=True)
    with status.status("running micro-benchmarks", spinner="dots") as spinner:
        calibration = calibrate_cpu(threads, on_progress=lambda text, done, total: spinner.update(f"{text} [{done}/{total}]"))
    if as_json:
        print_json({"fits": calibration.fits, "points": calibration.points, "path": str(calibration_path(threads))})
        return
    out = console()
    for precision, fit in calibration.fits.items():
        rates = ", ".join(f"{kind} {rate / 1e9:.1f}" for kind, rate in fit["compute"].items())
        out.print(f"{precision}: effective GFLOP/s {rates}; bandwidth {fit['bandwidth'] / 1e9:.1f} GB/s; "
                  f"per-layer overhead {fit['overhead_s'] * 1e6:.1f} us")
    out.print(f"saved {calibration_path(threads)} ({len(calibration.points)} measurements)")


def main() -> None:
    """Entry point of the ``edgeres`` console script."""
    cli(prog_name="edgeres")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
