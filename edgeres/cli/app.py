"""The ``edgeres`` command group and what every command shares: error handling, JSON, the console.

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
