"""Small text helpers shared across rerank: clipping for display, and true/false words.

>>> clip("a  long\\n text", 8, squash=True)
'a long …'
>>> parse_bool("Yes"), parse_bool("off")
(True, False)
"""

from __future__ import annotations

__all__ = ["FALSE_WORDS", "TRUE_WORDS", "clip", "parse_bool"]

#: The words a boolean option accepts, lower-cased.
TRUE_WORDS: tuple[str, ...] = ("1", "true", "yes", "on")
FALSE_WORDS: tuple[str, ...] = ("0", "false", "no", "off")


def clip(text: str, limit: int, *, squash: bool = False, strip: bool = False) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut.

    Parameters
    ----------
    text : the text.
    limit : the most characters to return (at least 1).
    squash : first collapse every run of whitespace to one space (one-line displays).
    strip : first strip leading and trailing whitespace.
    """
    if squash:
        text = " ".join(text.split())
    elif strip:
        text = text.strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def parse_bool(value: object) -> bool | None:
    """``True``/``False`` for a bool or one of the true/false words, else ``None``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None
