"""``edgeres devices``: the catalog, detection, CPU calibration."""

from __future__ import annotations

import click

from edgeres.cli.app import cli, console, print_json


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
