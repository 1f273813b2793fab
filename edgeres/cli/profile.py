"""``edgeres profile``: measured latency side by side, or an estimate for a device you do not have."""

from __future__ import annotations

from pathlib import Path

import click

from edgeres.cli.app import cli, console, print_json


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
        table.add_row(row["artifact"], row["precision"], f"{row['backend']} / {row['provider'].replace('ExecutionProvider', '')}", str(row["batch"]),
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
