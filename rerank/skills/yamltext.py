"""Reading the YAML of a skill package: strict mappings, and Markdown front matter.

PyYAML's safe loader silently keeps the last of two equal keys; in a hand-written package
that is nearly always a typo, so duplicate keys are an error here. Text is read as UTF-8
with line endings normalised, so a package checked out with CRLF renders and hashes the
same as one with LF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["YamlError", "load_yaml", "read_text", "split_front_matter"]


class YamlError(ValueError):
    """YAML that cannot be read; the message says where (line, column) and why."""


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys in a mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise YamlError(f"duplicate key {key!r} (line {line})")
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_text(path: Path) -> str:
    """The file as UTF-8 text with ``\\n`` line endings."""
    return path.read_text(encoding="utf-8").replace("\r\n", "\n")


def load_yaml(text: str) -> Any:
    """Parse YAML strictly (safe types only, no duplicate keys)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise YamlError(f"not valid YAML: {exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"not valid YAML: {exc}") from None


def split_front_matter(text: str) -> tuple[Any, str]:
    """Split ``---`` front matter from a Markdown body: ``(parsed front matter, body)``.

    Raises :class:`YamlError` when the text does not open with a front matter block or the
    block is not valid YAML.
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise YamlError("no front matter: the file must open with a line '---'")
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            return load_yaml("\n".join(lines[1:end])), "\n".join(lines[end + 1 :])
    raise YamlError("front matter is not closed: add a line '---' after it")
