"""``rerank env``: build and inspect the execution environments code candidates run on."""

from __future__ import annotations

from pathlib import Path

import click

from rerank import envs
from rerank.cli.errors import one_line_errors

__all__ = ["env"]


@click.group("env")
def env() -> None:
    """Execution environments: the Python (and libraries) code candidates run on."""


@env.command("create")
@click.argument("name")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option(
    "--requirements",
    "-r",
    default=None,
    metavar="FILE",
    help="Install this requirements file instead of NAME's list (NAME then only names it).",
)
@click.option(
    "--python",
    default=None,
    metavar="PATH",
    help="The interpreter of the environment (default: the one running rerank).",
)
@click.option("--force", is_flag=True, help="Rebuild an environment that is already built.")
def env_create(
    name: str, directory: str | None, requirements: str | None, python: str | None, force: bool
) -> None:
    """Build the environment NAME (e.g. bigcodebench) in DIR (default: under
    $XDG_CACHE_HOME/rerank/envs). Pins with no wheel for this Python are relaxed to the
    nearest version that has one; DIR/rerank-env.json records what was installed and why.
    Running it again finishes an interrupted build and leaves a finished one alone."""
    with one_line_errors(debug=False, interrupted="run the same command again to resume"):
        if requirements is not None:
            try:
                text = Path(requirements).read_text(encoding="utf-8")
            except OSError as exc:
                raise click.BadParameter(f"{requirements}: {exc.strerror}") from None
        else:
            text = envs.named_requirements(name)
        root = Path(directory) if directory else envs.default_env_dir(name)
        envs.create_env(
            root,
            text,
            name=name,
            python=python,
            force=force,
            progress=lambda message: click.echo(message, err=True),
        )
    click.echo(f"{root / 'bin' / 'python'}")


@env.command("show")
@click.argument("environment", metavar="ENV")
def env_show(environment: str) -> None:
    """What ENV (a directory, or a name) holds: its interpreter and every requirement
    that was relaxed, built from source or dropped."""
    with one_line_errors(debug=False, interrupted="nothing was changed"):
        root = envs.env_dir(environment)
        record = envs.read_record(root)
        if record is None:
            raise click.ClickException(f"{root} has no {envs.RECORD}: not built by rerank")
    python = record["python"]
    click.echo(f"{record['name']}: {root} ({record['status']})")
    click.echo(f"python {python['version']}: {python['executable']}")
    packages = record.get("packages", [])
    changed = [p for p in packages if p["change"] != "kept"]
    installed = len(record.get("freeze", []))
    click.echo(f"{len(packages)} requirements, {len(changed)} changed; {installed} installed")
    for package in changed:
        version = package.get("installed") or "-"
        click.echo(
            f"  {package['requested']} -> {version}: {package['change']}, {package['reason']}"
        )


@env.command("list")
def env_list() -> None:
    """The environments in the default place, and the ones rerank knows how to build."""
    root = envs.default_env_dir("x").parent
    for name in sorted({*envs.NAMED, *(p.name for p in root.glob("*") if p.is_dir())}):
        record = envs.read_record(root / name)
        status = record["status"] if record else "not built"
        click.echo(f"{name}\t{status}\t{root / name}")
