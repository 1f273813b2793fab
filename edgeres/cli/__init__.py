"""The ``edgeres`` command line: thin commands that parse, call the library, print.

Every command has ``--json`` for scripts. Errors raised on purpose (:class:`EdgeresError`) print one
line and exit with status 1, without a traceback. Heavy imports happen inside the commands, so
``edgeres --help`` is fast and works without the optional packages. One module per command family.
"""

from __future__ import annotations

import sys

from edgeres.cli import devices, export, models, profile  # noqa: F401  (register the commands)
from edgeres.cli.app import cli, console, print_json

__all__ = ["cli", "console", "main", "print_json"]


def main() -> None:
    """Entry point of the ``edgeres`` console script."""
    cli(prog_name="edgeres")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
