"""``fcdata schema``: print the JSON Schemas of the canonical record (or regenerate the files)."""

from __future__ import annotations

import click

import fcdata.schemas as schemas

from .common import CONTEXT_SETTINGS


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("name", required=False, type=click.Choice(list(schemas.NAMES)))
@click.option("--write", "write_dir", type=click.Path(file_okay=False), help="Regenerate the schema files into this folder (e.g. schemas/).")
def schema(name: str | None, write_dir: str | None) -> None:
    """Print the JSON Schema of a canonical record, message or tool.

    \b
    With no NAME, prints all three as one JSON object {"record": ..., "message": ..., "tool": ...}.
    The schemas are generated from fcdata's Pydantic models; the same files ship in the package.

    \b
    Examples:
      fcdata schema record > record.schema.json
      fcdata schema --write schemas/
    """
    if write_dir:
        for path in schemas.write(write_dir):
            click.echo(path, err=True)
        return
    if name:
        click.echo(schemas.dumps(schemas.load(name)), nl=False)
    else:
        click.echo(schemas.dumps({n: schemas.load(n) for n in schemas.NAMES}), nl=False)
