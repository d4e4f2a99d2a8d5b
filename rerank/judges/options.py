"""Typed judge options, and the spec boundary where strings become values.

Each judge has one frozen options dataclass (a :class:`JudgeOptions`); every field is
declared with :func:`option`, which says how a value is read (:class:`Kind`) and whether a
spec records it. A judge spec (``--judge llm:max_steps=3,short_circuit=false``) is read
once, by :meth:`JudgeOptions.from_spec`, and the judge's ``spec`` is written back from the
options by :meth:`JudgeOptions.to_spec`, so ``create_judge(judge.spec)`` rebuilds a judge
with equal options. Like inspect_ai's registry, the options remember which of them a spec
named, in its order, and the spec names those again (``simulated:1.0`` stays
``simulated:1.0``); options built in Python name the recorded ones that differ from their
defaults.

Whatever way an options object is made (from a spec, from a constructor's keywords, or
directly), each value passes through its field's kind once, in ``__post_init__``: a bad
value is a :class:`~rerank.errors.ConfigError` naming the option.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Longer(JudgeOptions):
...     positional = ("margin",)
...     margin: int = option(0, Number(int, minimum=0))
...     strict: bool = option(False, FLAG)
>>> given = Longer.from_spec(["10"], {"strict": "yes"}, judge="longer")
>>> given.margin, given.strict, given.to_spec("longer")
(10, True, 'longer:10,strict=true')
>>> Longer(margin=3).to_spec("longer")
'longer:3'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rerank.errors import ConfigError
from rerank.llm.redact import redact_spec
from rerank.text import parse_bool

__all__ = [
    "AUTO",
    "CACHE",
    "FLAG",
    "PATHS",
    "PROBABILITY",
    "TEXT",
    "URLS",
    "Choice",
    "JudgeOptions",
    "Kind",
    "Number",
    "option",
]

OptionsT = TypeVar("OptionsT", bound="JudgeOptions")


class Kind:
    """How one option is read from a string or a Python value, and written into a spec."""

    def parse(self, value: Any, name: str) -> Any:
        """``value`` (a spec's string, or already a value) as the option's type.

        Raises ``ValueError`` saying what was expected; :class:`JudgeOptions` turns it
        into a :class:`~rerank.errors.ConfigError` naming the option.
        """
        return value

    def render(self, value: Any) -> str:
        """The text a spec gives for ``value`` (read back by :meth:`parse`)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return "none"
        return str(value)


class _Flag(Kind):
    def parse(self, value: Any, name: str) -> bool:
        flag = parse_bool(value)
        if flag is None:
            raise ValueError(f"{name} must be true or false, not {value!r}")
        return flag


class _Auto(Kind):
    """True, False, or ``None`` for "auto" (decided later, e.g. by the model's size)."""

    def parse(self, value: Any, name: str) -> bool | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        flag = parse_bool(value)
        if flag is None:
            raise ValueError(f"{name} must be auto, true or false, not {value!r}")
        return flag

    def render(self, value: Any) -> str:
        return "auto" if value is None else super().render(value)


class Choice(Kind):
    """One of a few words; ``"auto"`` (or ``None``) is ``None``, decided later."""

    def __init__(self, *words: str) -> None:
        self.words = words

    def parse(self, value: Any, name: str) -> str | None:
        if value is None:
            return None
        word = value.strip().lower() if isinstance(value, str) else value
        if word == "auto":
            return None
        if word not in self.words:
            listed = ", ".join(("auto", *self.words))
            raise ValueError(f"{name} must be one of {listed}, not {value!r}")
        return word

    def render(self, value: Any) -> str:
        return "auto" if value is None else str(value)


class Number(Kind):
    """An int or a float (of at least ``minimum``); ``optional`` also takes None (``none``)."""

    def __init__(self, kind: type, minimum: float | None = None, *, optional: bool = False) -> None:
        self.kind = kind
        self.minimum = minimum
        self.optional = optional

    def parse(self, value: Any, name: str) -> Any:
        if self.optional and (value is None or value == "none"):
            return None
        try:
            number = self.kind(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, not {value!r}") from None
        if self.minimum is not None and number < self.minimum:
            raise ValueError(f"{name} must be at least {self.minimum:g}, not {value!r}")
        return number

    def render(self, value: Any) -> str:
        return repr(value) if isinstance(value, float) else super().render(value)


class _Probability(Number):
    def __init__(self) -> None:
        super().__init__(float)

    def parse(self, value: Any, name: str) -> float:
        number = super().parse(value, name)
        if not 0.0 <= number <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {number}")
        return number


class _Text(Kind):
    def parse(self, value: Any, name: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise ValueError(f"{name} must be text, not {value!r}")


class _Strings(Kind):
    """Several strings: a list, or one string split at ``separator``."""

    def __init__(self, separator: str | None) -> None:
        self.separator = separator

    def parse(self, value: Any, name: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str | Path):
            text = str(value)
            parts = text.split(self.separator) if self.separator else [text]
            return tuple(p for p in parts if p)
        if isinstance(value, Sequence):
            return tuple(str(v) for v in value)
        raise ValueError(f"{name} must be text or a list of text, not {value!r}")

    def render(self, value: Any) -> str:
        return (self.separator or ",").join(value)


class _Cache(Kind):
    """The verdict cache: True (the default file), False (none) or a path."""

    def parse(self, value: Any, name: str) -> bool | str:
        if value is None:
            return True
        if isinstance(value, Path):
            return str(value)
        flag = parse_bool(value)
        if flag is not None:
            return flag
        if isinstance(value, str) and value.strip().lower() == "none":
            return False
        if isinstance(value, str):
            return value
        raise ValueError(f"{name} must be a path, true or false, not {value!r}")


FLAG: Kind = _Flag()
AUTO: Kind = _Auto()
PROBABILITY: Kind = _Probability()
TEXT: Kind = _Text()
#: Folders, ``:``-separated in a spec (``skills_dirs=a:b``).
PATHS: Kind = _Strings(":")
#: Base URLs: one string (a spec's), or a list.
URLS: Kind = _Strings(None)
CACHE: Kind = _Cache()


def option(default: Any, kind: Kind, *, recorded: bool = True, secret: bool = False) -> Any:
    """A field of an options dataclass.

    Parameters
    ----------
    default : the value when the option is not given.
    kind : how it is read and written (:class:`Kind`).
    recorded : whether a spec written for options made in Python names it when it differs
        from the default: true for options that change verdicts, false for where and how
        to ask (endpoints, cache, timeout). A spec that names it keeps it either way.
    secret : left out of the repr (a key, a URL with credentials).
    """
    metadata = {"kind": kind, "recorded": recorded}
    if isinstance(default, list | dict | set):
        raise TypeError("an option's default must be immutable")
    return field(default=default, metadata=metadata, repr=not secret)


@dataclass(frozen=True)
class JudgeOptions:
    """Base of the options dataclasses: reading a spec, building from keywords, writing a
    spec.

    ``positional`` names the options a spec may give without ``name=``, in order.
    ``refused`` maps option names this judge rejects to the reason (given as ``None``, they
    are ignored).
    """

    positional: ClassVar[tuple[str, ...]] = ()
    refused: ClassVar[Mapping[str, str]] = {}

    #: The options a spec named, in its order (``None``: made in Python).
    spec_names: tuple[str, ...] | None = field(
        default=None, kw_only=True, compare=False, repr=False
    )
    #: How many of ``spec_names`` the spec gave positionally.
    spec_positional: int = field(default=0, kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        for f in _options(type(self)):
            try:
                value = f.metadata["kind"].parse(getattr(self, f.name), f.name)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            object.__setattr__(self, f.name, value)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in field order."""
        return tuple(f.name for f in _options(cls))

    @classmethod
    def _named(cls, args: Sequence[Any], values: Mapping[str, Any], judge: str) -> dict[str, Any]:
        """``args`` and ``values`` by option name, in order; unknown names are errors."""
        if len(args) > len(cls.positional):
            allowed = ", ".join(cls.positional) or "none"
            raise ConfigError(
                f"the {judge} judge takes {len(cls.positional)} positional options "
                f"({allowed}), not {len(args)}"
            )
        named = dict(zip(cls.positional, args, strict=False))
        known = cls.names()
        for name, value in values.items():
            if name in cls.refused:
                if value is not None:
                    raise ConfigError(cls.refused[name].format(name=name))
                continue
            if name not in known:
                raise ConfigError(
                    f"the {judge} judge has no option {name!r} (its options: {', '.join(known)})"
                )
            if name in named:
                raise ConfigError(f"the {judge} judge got option {name!r} twice")
            named[name] = value
        return named

    @classmethod
    def from_spec(
        cls: type[OptionsT], args: Sequence[str], kwargs: Mapping[str, str], *, judge: str
    ) -> OptionsT:
        """The options a spec gives (its positional and ``key=value`` parts, as strings),
        remembering which it named, in its order."""
        named = cls._named(args, kwargs, judge)
        return cls(**named, spec_names=tuple(named), spec_positional=len(args))

    @classmethod
    def build(
        cls: type[OptionsT],
        options: OptionsT | None = None,
        args: Sequence[Any] = (),
        values: Mapping[str, Any] | None = None,
        *,
        judge: str,
    ) -> OptionsT:
        """``options`` (default: all defaults) with ``args`` and ``values`` (a judge
        constructor's arguments, strings or values) applied on top. A spec names what
        ``options`` named, not these."""
        named = cls._named(args, values or {}, judge)
        base = options if options is not None else cls()
        return dataclasses.replace(base, **named) if named else base

    def recorded(self) -> tuple[str, ...]:
        """The options a spec names: those the spec gave, else the recorded options that
        differ from their defaults (positional ones first)."""
        if self.spec_names is not None:
            return self.spec_names
        changed = [
            f.name
            for f in _options(type(self))
            if f.metadata["recorded"] and getattr(self, f.name) != f.default
        ]
        first = [n for n in self.positional if n in changed]
        return (*first, *(n for n in changed if n not in first))

    def to_spec(self, judge: str) -> str:
        """The spec that rebuilds these options (credentials masked)."""
        names = self.recorded()
        if self.spec_names is not None:
            positional = self.spec_positional
        else:  # the leading run of the positional options, in their order
            positional = 0
            for name, expected in zip(names, self.positional, strict=False):
                if name != expected:
                    break
                positional += 1
        kinds = {f.name: f.metadata["kind"] for f in _options(type(self))}
        parts = []
        for k, name in enumerate(names):
            text = kinds[name].render(getattr(self, name))
            parts.append(text if k < positional else f"{name}={text}")
        return redact_spec(judge + (":" + ",".join(parts) if parts else ""))


def _options(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if "kind" in f.metadata]
