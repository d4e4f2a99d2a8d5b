"""Requirement lists, and how a pin is relaxed: pure functions over text, no I/O.

An environment is built from a list of requirements (``name==version`` pins, bare names).
Pins written for another Python often have no wheel for this one (numpy 1.21.2 has none
for Python 3.11). :func:`nearest_version` picks the version to use instead, from the
versions pip says do have one; :func:`wheel_versions`, :func:`conflicts` and
:func:`missing_distribution` read what pip says.

Examples
--------
>>> [p.line for p in parse_requirements("numpy==1.21.2\\nRequests==2.31.0\\nrequests==2.31.0")]
['numpy==1.21.2', 'Requests==2.31.0']
>>> nearest_version("1.21.2", ["1.20.3", "1.23.2", "1.23.3", "2.0.0rc1"])
'1.23.2'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

__all__ = [
    "Pin",
    "conflicts",
    "missing_distribution",
    "nearest_version",
    "parse_requirements",
    "series",
    "wheel_versions",
]


@dataclass(frozen=True)
class Pin:
    """One requirement as written: ``name`` is canonical, ``version`` the ``==`` pin if any."""

    name: str
    line: str
    version: str | None


def parse_requirements(text: str, *, source: str = "requirements") -> list[Pin]:
    """The requirements of a pip requirements file, duplicates merged, in file order.

    Comments and blank lines are skipped; options (``-r``, ``--index-url``) and two
    different requirements for one name are errors that name the line.
    """
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ValueError(f"{source}:{number}: options such as {line.split()[0]} are not read")
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"{source}:{number}: {exc}") from None
        name = canonicalize_name(requirement.name)
        specs = list(requirement.specifier)
        version = specs[0].version if len(specs) == 1 and specs[0].operator == "==" else None
        pin = Pin(name, line, version)
        earlier = pins.get(name)
        if earlier is None:
            pins[name] = pin
        elif _same(earlier.line, line):
            continue
        else:
            raise ValueError(f"{source}:{number}: {line!r} contradicts {earlier.line!r}")
    return list(pins.values())


def _same(a: str, b: str) -> bool:
    ra, rb = Requirement(a), Requirement(b)
    return (canonicalize_name(ra.name), ra.specifier, ra.extras, str(ra.marker)) == (
        canonicalize_name(rb.name),
        rb.specifier,
        rb.extras,
        str(rb.marker),
    )


def _versions(texts: Iterable[str]) -> list[Version]:
    found = []
    for text in texts:
        try:
            found.append(Version(text))
        except InvalidVersion:
            continue
    return sorted(set(found))


def nearest_version(
    pinned: str, available: Iterable[str], allowed: str | SpecifierSet = ""
) -> str | None:
    """The version to use for a pin that cannot be installed as written.

    The first release after ``pinned`` among ``available`` (the pin was written for an
    older Python, so the next release is the least change), else the last one before it;
    only versions in ``allowed`` (a specifier, e.g. what other packages require), and
    pre-releases only if the pin is one. None if nothing is left.

    >>> nearest_version("2.11.0", ["2.10.0", "2.12.0", "2.13.1"], "<2.13,>=2.12.0")
    '2.12.0'
    >>> nearest_version("9.0", ["1.0", "2.0"])
    '2.0'
    """
    pin = Version(pinned)
    spec = allowed if isinstance(allowed, SpecifierSet) else SpecifierSet(allowed)
    usable = [
        v
        for v in _versions(available)
        if (pin.is_prerelease or not v.is_prerelease) and spec.contains(v, prereleases=True)
    ]
    later = [v for v in usable if v >= pin]
    if later:
        return str(later[0])
    return str(usable[-1]) if usable else None


def series(name: str, version: str) -> str:
    """A requirement for ``version`` and the later patch releases of its series: where a
    pin had to move, a later patch (a fix, often wheels for more platforms) is as good,
    and leaves the resolver room to satisfy the other packages.

    >>> series("numpy", "1.23.2")
    'numpy>=1.23.2,<1.24'
    >>> series("x", "7")
    'x==7'
    """
    release = Version(version).release
    if len(release) < 2:
        return f"{name}=={version}"
    return f"{name}>={version},<{release[0]}.{release[1] + 1}"


_FROM_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")


def wheel_versions(pip_output: str) -> list[str] | None:
    """The versions listed by pip's "Could not find a version that satisfies the
    requirement X (from versions: ...)"; [] for "none", None if there is no such line.

    >>> wheel_versions("ERROR: Could not find ... (from versions: 1.23.2, 1.23.3)")
    ['1.23.2', '1.23.3']
    """
    match = _FROM_VERSIONS.search(pip_output)
    if match is None:
        return None
    listed = match[1].strip()
    return [] if listed in ("", "none") else [v.strip() for v in listed.split(",")]


_DEPENDS = re.compile(r"^\s*(\S+) (\S+) depends on ([A-Za-z0-9._-]+)(?:\[[^\]]*\])?(.*)$")


def conflicts(pip_output: str) -> dict[str, list[tuple[str, str]]]:
    """From pip's "The conflict is caused by:" list: for each package that others
    constrain, ``(who, specifier)`` pairs, e.g. ``{"keras": [("tensorflow 2.12.0",
    "<2.13,>=2.12.0")]}``.

    >>> conflicts("    tensorflow 2.12.0 depends on keras<2.13 and >=2.12.0")
    {'keras': [('tensorflow 2.12.0', '<2.13,>=2.12.0')]}
    """
    found: dict[str, list[tuple[str, str]]] = {}
    for line in pip_output.splitlines():
        match = _DEPENDS.match(line)
        if match is None:
            continue
        spec = match[4].split(";")[0].strip().replace(" and ", ",").replace(" ", "")
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            continue
        who = f"{match[1]} {match[2]}"
        found.setdefault(canonicalize_name(match[3]), []).append((who, spec))
    return found


_MISSING = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")


def missing_distribution(pip_output: str) -> str | None:
    """The (canonical) name in pip's "No matching distribution found for X", if any."""
    match = _MISSING.search(pip_output)
    return canonicalize_name(match[1]) if match else None
