"""``edgeres models``: the zoo."""

from __future__ import annotations

import click

from edgeres.cli.app import cli, console, print_json


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
