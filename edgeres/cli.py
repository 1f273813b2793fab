"""The ``edgeres`` command line: thin commands that parse, call the library, print.

Every command has ``--json`` for scripts. Errors raised on purpose (:class:`EdgeresError`) print one
line and exit with status 1, without a traceback. Heavy imports happen inside the commands, so
``edgeres --help`` is fast and works without the optional packages.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from edgeres import __version__
from edgeres.errors import EdgeresError


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


def main() -> None:
    """Entry point of the ``edgeres`` console script."""
    cli(prog_name="edgeres")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
