"""Values as plain data: how a candidate's return values leave the sandbox, and how they
are compared with what was expected.

A candidate's process may write anything on its channel, so nothing it writes is
unpickled or evaluated. Its values travel as JSON with type tags (:func:`encode`), and
:func:`decode` can build only exact builtin types from them: an ``int`` subclass whose
``__eq__`` always says yes is read back as its plain value, ``True`` stays a ``bool``,
and an object that is not plain data becomes an :class:`Opaque` (its type name and
``repr``), which equals nothing but another opaque value with the same type and repr.
A value whose encoding passes ``max_bytes`` is sent as a :class:`Digest` of that
encoding, so equal big values still match exactly.

The module uses only the standard library and imports nothing of rerank: the sandboxed
worker (:mod:`~rerank.verifiers.code.worker`) and checker
(:mod:`~rerank.verifiers.code.checker`) import it as a file of their own.

Examples
--------
>>> class Liar(int):
...     def __eq__(self, other):
...         return True
>>> decode(loads(dumps(encode(Liar(-1))))) == 5
False
>>> same_output(True, 1), same_output(1, 1.0), same_output(0.1 + 0.2, 0.3)
(False, True, True)
"""

import base64
import hashlib
import json
import math
import re

__all__ = [
    "Digest",
    "Opaque",
    "canonical",
    "decode",
    "digest_of",
    "dumps",
    "encode",
    "loads",
    "same_output",
    "text_matches",
]

#: Containers nested deeper than this are not plain data (they become opaque).
MAX_DEPTH = 64
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_REPR_WIDTH = 400


class Opaque:
    """A value that is not plain data: its type's name and its (clipped) ``repr``."""

    __slots__ = ("type", "text")

    def __init__(self, type_name, text):
        self.type = str(type_name)
        self.text = str(text)

    def __eq__(self, other):
        return isinstance(other, Opaque) and (self.type, self.text) == (other.type, other.text)

    def __hash__(self):
        return hash((self.type, self.text))

    def __repr__(self):
        return self.text

    def __bool__(self):
        raise TypeError(f"a {self.type} value cannot be judged outside the sandbox")


class Digest:
    """A value too big to ship: the size and SHA-256 of its encoding."""

    __slots__ = ("size", "sha")

    def __init__(self, size, sha):
        self.size = int(size)
        self.sha = str(sha)

    def __eq__(self, other):
        return isinstance(other, Digest) and self.sha == other.sha

    def __hash__(self):
        return hash(self.sha)

    def __repr__(self):
        return f"<{self.size} bytes>"


class _TooBig(Exception):
    pass


# --- encoding (in the sandbox) --------------------------------------------------------------


def _opaque(value):
    try:
        text = repr(value)
    except BaseException as exc:  # a candidate's __repr__ may raise anything
        text = f"<unprintable: {type(exc).__name__}>"
    if not isinstance(text, str):
        text = "<unprintable>"
    text = _ADDRESS.sub("", str.__str__(text))
    if len(text) > _REPR_WIDTH:
        text = text[: _REPR_WIDTH - 1] + "…"
    try:
        name = type(value).__qualname__
    except BaseException:
        name = "object"
    return {"o": str(name), "r": text}


def _encode(value, depth, budget):
    """The tagged form of ``value``; exact builtin types only, read without its methods.

    Types are read with ``type()`` (a ``__class__`` property cannot fake it) and values
    with the builtin types' own methods (``int.__int__``, ``list.__iter__``), so a
    subclass cannot change what is read.
    """
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig()
    if value is None or value is True or value is False:
        return value
    if depth > MAX_DEPTH:
        return {"o": "deep", "r": "<nested too deep>"}
    kind = type(value)
    if kind is Opaque:
        return {"o": value.type, "r": value.text}
    if kind is Digest:
        return {"h": value.sha, "n": value.size}
    if issubclass(kind, int):
        return {"i": format(int.__int__(value), "x")}  # hex: exempt from int->str limits
    if issubclass(kind, float):
        return {"f": float.__repr__(float.__float__(value))}
    if issubclass(kind, str):
        return {"s": str.__str__(value)}
    if issubclass(kind, bytes | bytearray):
        return {"b": base64.b64encode(bytes(memoryview(value))).decode("ascii")}
    if issubclass(kind, complex):
        number = complex.__complex__(value)
        return {"c": [float.__repr__(number.real), float.__repr__(number.imag)]}
    inner = depth + 1
    if issubclass(kind, list):
        return {"l": [_encode(x, inner, budget) for x in list.__iter__(value)]}
    if issubclass(kind, tuple):
        return {"t": [_encode(x, inner, budget) for x in tuple.__iter__(value)]}
    if issubclass(kind, frozenset):
        return {"fs": [_encode(x, inner, budget) for x in frozenset.__iter__(value)]}
    if issubclass(kind, set):
        return {"set": [_encode(x, inner, budget) for x in set.__iter__(value)]}
    if issubclass(kind, dict):
        pairs = dict.items(value)
        return {"d": [[_encode(k, inner, budget), _encode(v, inner, budget)] for k, v in pairs]}
    if kind is range:
        return {"range": [_encode(x, inner, budget) for x in (value.start, value.stop, value.step)]}
    if (kind.__module__, kind.__name__) == ("collections", "deque"):
        return {"dq": [_encode(x, inner, budget) for x in list(value)]}
    item = _numpy_item(value)
    if item is not _NOTHING:
        return _encode(item, depth, budget)
    return _opaque(value)


_NOTHING = object()


def _numpy_item(value):
    """A numpy scalar's Python value (``np.int64(3)`` is 3, as evalplus's ``==`` finds)."""
    module = getattr(type(value), "__module__", "") or ""
    if module != "numpy" or getattr(value, "ndim", None) != 0:
        return _NOTHING
    try:
        item = value.item()
    except BaseException:
        return _NOTHING
    return item if type(item) in (int, float, bool, complex, str, bytes) else _NOTHING


def encode(value, max_bytes=100_000):
    """``value`` as JSON-ready tagged data, or a digest form when it is too big.

    Only the builtin types' own methods are used to read a value (``int.__int__``,
    ``list.__iter__``, ...), so a subclass cannot change what is read; anything else is
    opaque. ``max_bytes`` bounds the encoding of one value.
    """
    budget = [max(1000, max_bytes)]  # nodes; the byte size is checked after
    try:
        data = _encode(value, 0, budget)
        text = dumps(data)
    except (_TooBig, RecursionError, MemoryError, ValueError):
        return _digest(value)
    if len(text) > max_bytes:
        return _digest(value, text)
    return data


def _digest(value, text=None):
    """The size and hash of ``value``'s encoding, with sets and dicts in a fixed order (so
    equal values hash alike whatever their iteration order)."""
    try:
        data = _encode(value, 0, [1 << 62])
        text = text or dumps(data)
        canon = dumps(_ordered(data))
    except BaseException:
        return _opaque(value)
    return {"h": hashlib.sha256(canon.encode("utf-8", "surrogatepass")).hexdigest(), "n": len(text)}


def _ordered(data):
    if isinstance(data, dict) and len(data) == 1:
        ((tag, payload),) = data.items()
        if tag in ("set", "fs"):
            return {tag: sorted((_ordered(x) for x in payload), key=dumps)}
        if tag == "d":
            return {tag: sorted(([_ordered(k), _ordered(v)] for k, v in payload), key=dumps)}
        if tag in ("l", "t", "dq", "range"):
            return {tag: [_ordered(x) for x in payload]}
    return data


def digest_of(value):
    """The :class:`Digest` that :func:`encode` sends for ``value`` when it is too big: so a
    value can be compared with one that came only as a digest."""
    if isinstance(value, Digest):
        return value
    data = _digest(value)
    return Digest(data["n"], data["h"]) if "h" in data else None


def dumps(data):
    """One line of JSON (NaN kept as the tags write it, never bare)."""
    return json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def loads(text, max_bytes=64 << 20):
    """Parse one line written by a sandboxed process; ``ValueError`` for anything wrong."""
    if len(text) > max_bytes:
        raise ValueError(f"line of {len(text)} bytes")
    try:
        return json.loads(text)
    except (RecursionError, MemoryError) as exc:
        raise ValueError(f"unreadable: {type(exc).__name__}") from None


# --- decoding (in rerank's process, or the checker's) -------------------------------------


def decode(data, depth=0):
    """The value ``data`` stands for: exact builtin types, :class:`Opaque` or :class:`Digest`.

    Raises ``ValueError`` for anything :func:`encode` does not write.
    """
    if depth > MAX_DEPTH + 2:
        raise ValueError("nested too deep")
    if data is None or isinstance(data, bool):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise ValueError(f"not a tagged value: {type(data).__name__}")
    if "h" in data:
        return Digest(int(data.get("n", 0)), str(data["h"]))
    if "o" in data:
        return Opaque(data["o"], data.get("r", ""))
    ((tag, payload),) = data.items()
    if tag == "i":
        return int(str(payload), 16)
    if tag == "f":
        return float(str(payload))
    if tag == "s":
        return str(payload)
    if tag == "b":
        return base64.b64decode(str(payload))
    if tag == "c":
        return complex(float(payload[0]), float(payload[1]))
    if tag == "d":
        return {_key(decode(k, depth + 1)): decode(v, depth + 1) for k, v in payload}
    if tag == "range":
        return range(*(int(decode(x, depth + 1)) for x in payload))
    items = [decode(x, depth + 1) for x in _list(payload)]
    if tag == "l":
        return items
    if tag == "t":
        return tuple(items)
    if tag == "set":
        return set(_key(x) for x in items)
    if tag == "fs":
        return frozenset(_key(x) for x in items)
    if tag == "dq":
        import collections

        return collections.deque(items)
    raise ValueError(f"unknown tag {tag!r}")


def _list(payload):
    if not isinstance(payload, list):
        raise ValueError("a container's items must be a list")
    return payload


def _key(value):
    try:
        hash(value)
    except TypeError:
        raise ValueError("an unhashable set member or dict key") from None
    return value


# --- comparing ------------------------------------------------------------------------------


def _is_floats(x):
    if type(x) is float:
        return True
    if type(x) in (list, tuple) and x:
        return all(type(i) is float for i in x)
    return False


def _close(out, exp, atol, rtol=1e-07):
    """numpy's ``allclose`` for what evalplus compares with it: numbers and sequences."""
    if type(exp) in (list, tuple):
        return (
            type(out) in (list, tuple)
            and len(out) == len(exp)
            and all(_close(o, e, atol, rtol) for o, e in zip(out, exp, strict=True))
        )
    if type(out) not in (int, float) or type(exp) not in (int, float):
        return False
    if math.isinf(exp) or math.isinf(out):
        return out == exp
    return abs(out - exp) <= atol + rtol * abs(exp)


def equal(out, exp, strict_bools=True):
    """Python's ``==`` on plain values, except that a ``bool`` equals only a ``bool``.

    ``1 == 1.0`` holds (as in evalplus and in an ``assert``), ``True == 1`` does not.
    Opaque and digest values equal only their own kind. ``strict_bools=False`` is
    Python's ``==`` itself (``True == 1``), which evalplus's labels were computed with:
    safe on decoded values, which are exact builtin types with no ``__eq__`` of a
    candidate's.
    """
    if not strict_bools:
        try:
            return bool(out == exp)
        except Exception:
            return False
    if isinstance(out, bool) or isinstance(exp, bool):
        return type(out) is type(exp) and out == exp
    if type(out) in (list, tuple) and type(exp) is type(out):
        return len(out) == len(exp) and all(equal(o, e) for o, e in zip(out, exp, strict=True))
    if type(out) is dict and type(exp) is dict:
        return out.keys() == exp.keys() and all(equal(out[k], exp[k]) for k in out)
    try:
        return bool(out == exp)
    except Exception:
        return False


def same_output(out, exp, atol=0.0, strict_bools=True):
    """evalplus's rule on decoded values: equal (:func:`equal`), or for floats (atol at
    least 1e-6) of one type, close."""
    if equal(out, exp, strict_bools):
        return True
    if atol == 0 and _is_floats(exp):
        atol = 1e-6
    if atol == 0 or type(out) is not type(exp):
        return False
    return _close(out, exp, atol)


def text_matches(got, want):
    """doctest's comparison, forgiving about whitespace, with ``...`` as a wildcard."""
    got, want = " ".join(got.split()), " ".join(want.split())
    if got == want:
        return True
    if "..." not in want:
        return False
    pattern = ".*".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got, re.S) is not None


def canonical(value, depth=0):
    """A text that is equal for outputs a person would call equal, stable across processes.

    Sets and dicts are sorted (their order depends on hash seeds), floats rounded to nine
    significant digits (two correct programs may differ in the last bit), addresses
    dropped from reprs.
    """
    if depth > 30:
        return "…"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return "nan" if value != value else format(value, ".9g")
    if isinstance(value, int):
        try:
            return repr(value)
        except ValueError:  # more digits than int->str allows
            return f"int:{value.bit_length()}:{value % 1000000007}"
    if isinstance(value, str | bytes | complex | range):
        return repr(value)
    if isinstance(value, list | tuple):
        inner = ",".join(canonical(v, depth + 1) for v in value)
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, set | frozenset):
        return "set{" + ",".join(sorted(canonical(v, depth + 1) for v in value)) + "}"
    if isinstance(value, dict):
        items = sorted(
            f"{canonical(k, depth + 1)}:{canonical(v, depth + 1)}" for k, v in value.items()
        )
        return "dict{" + ",".join(items) + "}"
    if isinstance(value, Digest):
        return f"digest:{value.sha}"
    if isinstance(value, Opaque):
        return f"{value.type}:{value.text}"
    return f"{type(value).__qualname__}:{_ADDRESS.sub('', repr(value))}"


def short(value, width=80):
    """``repr(value)`` clipped, for check details."""
    try:
        text = repr(value)
    except ValueError:  # an int past the int->str limit
        text = f"<int of {value.bit_length()} bits>"
    text = _ADDRESS.sub("", text)
    return text if len(text) <= width else text[: width - 1] + "…"
