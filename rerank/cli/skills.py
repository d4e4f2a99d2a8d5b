"""``rerank skills``: list, show and validate the skill packages the LLM judge executes.

Attached to the main command with ``main.add_command(skills)``. Like the rest of the CLI it
only parses, calls :mod:`rerank.skills` and turns our errors into one message and a
non-zero exit code.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from rerank.errors import RerankError
from rerank.skills import (
    BUILTIN,
    Skill,
    SkillError,
    SkillRegistry,
    builtin_dir,
    discover,
    load_skill,
    render,
)
from rerank.skills.problems import display_path

__all__ = ["skills"]

_skills_dir = click.option(
    "--skills-dir",
    "skills_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    metavar="DIR",
    help="Also load the skills in DIR (a skill folder or a folder of them); repeatable. "
    "A skill named like a built-in one replaces it.",
)


def _registry(skills_dirs: tuple[str, ...]) -> SkillRegistry:
    try:
        registry = SkillRegistry.from_dirs(skills_dirs)
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    for note in registry.notes:
        click.echo(f"note: {note}", err=True)
    return registry


@click.group("skills", context_settings={"help_option_names": ["-h", "--help"]})
def skills() -> None:
    """Inspect and validate the skill packages of the LLM judge."""


@skills.command("list")
@_skills_dir
def list_command(skills_dirs: tuple[str, ...]) -> None:
    """List the available skills: name, version, task kinds, source and description."""
    registry = _registry(skills_dirs)
    rows = [
        (
            s.name,
            s.version,
            ",".join(s.task_kinds),
            f"{registry.source(s.name)} ({display_path(s.root)})",
        )
        for s in registry
    ]
    header = ("NAME", "VERSION", "TASK KINDS", "SOURCE")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header) - 1)]
    for row, skill in zip([header, *rows], [None, *registry], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())
        if skill is not None:
            click.echo(
                textwrap.fill(
                    skill.description, 92, initial_indent="    ", subsequent_indent="    "
                )
            )


@skills.command("show")
@click.argument("name")
@click.option("--compact", is_flag=True, help="The compact form for small local models.")
@_skills_dir
def show_command(name: str, compact: bool, skills_dirs: tuple[str, ...]) -> None:
    """Print the prompt prefix skill NAME renders to (stdout) and its hash (stderr).

    stdout holds the exact bytes the judge puts in front of every call, so
    ``rerank skills show math > prefix.md`` saves them.
    """
    registry = _registry(skills_dirs)
    try:
        skill = registry.get(name)
        text = render(skill, compact=compact)
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text, nl=False)
    form = "compact" if compact else "full"
    click.echo(
        f"skill {skill.name} {skill.version} ({form}, {len(text)} characters) sha256:{skill.hash}",
        err=True,
    )


def _folders(paths: tuple[str, ...]) -> list[Path]:
    if not paths:
        return discover(builtin_dir())
    return [folder for path in paths for folder in discover(path)]


def _validated(folder: Path) -> Skill | None:
    try:
        skill = load_skill(folder)
    except SkillError as exc:
        click.echo(f"FAIL {display_path(folder)}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        return None
    click.echo(f"ok   {display_path(folder)}: {skill.name} {skill.version} sha256:{skill.hash}")
    return skill


@skills.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, file_okay=False))
def validate_command(paths: tuple[str, ...]) -> None:
    """Validate skill folders (PATHS: skill folders or folders of them; default: the
    built-in skills). Lists every problem and exits 1 if any package has one."""
    try:
        folders = _folders(paths)
    except RerankError as exc:
        raise click.ClickException(str(exc)) from None
    if not folders:
        raise click.ClickException(f"no skill folders in {', '.join(paths) or BUILTIN}")
    results = [_validated(folder) for folder in folders]
    failed = sum(r is None for r in results)
    if failed:
        click.echo(f"{failed} of {len(results)} skills invalid", err=True)
        raise SystemExit(1)
    click.echo(f"{len(results)} skills valid")
