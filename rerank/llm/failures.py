"""What went wrong with one request, and how to say so to a user.

:func:`classify` turns an exception from the openai client into a :class:`Failure`: a kind
that decides what the pool does next (fail over, or give up at once) and a short phrase in
the words a user needs. :func:`no_endpoint_answered` and :func:`request_rejected` build the
final error messages from failures, so they name every endpoint involved (by its masked
URL) and, as :func:`classify` blanks them out, never the API key or the URL's credentials.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import openai

from rerank.errors import EndpointError, MalformedResponse, RequestRejectedError
from rerank.llm.endpoints import parse_retry_after
from rerank.llm.redact import MASK
from rerank.text import clip

__all__ = [
    "Failure",
    "classify",
    "context_overflow",
    "no_endpoint_answered",
    "request_rejected",
]

# Kinds of failure. All but REJECTED move the call on to another endpoint.
REFUSED, UNREACHABLE, TIMEOUT, RATE_LIMITED, SERVER, MALFORMED, REJECTED = (
    "refused",
    "unreachable",
    "timeout",
    "rate-limited",
    "server",
    "malformed",
    "rejected",
)

HINTS = {
    REFUSED: "Is the server running? Check --base-url.",
    UNREACHABLE: "Is the server running? Check --base-url.",
    TIMEOUT: "The server may be overloaded or the request long: raise --timeout or lower "
    "--concurrency.",
    RATE_LIMITED: "The servers are rate limiting: lower --concurrency or add endpoints.",
    SERVER: "The server failed: its log says why.",
    MALFORMED: "Is --base-url an OpenAI-compatible endpoint (usually ending in /v1)?",
}

TEMPLATE_KWARGS_WORDS = ("chat_template_kwargs", "enable_thinking")
#: How servers say a request does not fit the model's context: llama.cpp ("exceeds the
#: available context size", exceed_context_size_error), vLLM and OpenAI ("maximum context
#: length is ...", context_length_exceeded), SGLang and others ("too long", "too many
#: tokens").
_OVERFLOW = re.compile(
    r"context[ _](size|length|window)|maximum context|exceed\w*[ _]context|"
    r"prompt is too long|too many (input )?tokens|input is too large",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Failure:
    """One failed request: its ``kind``, what the endpoint said (``detail``), the HTTP
    status if there was one, and how long the server asked us to wait, if it did."""

    kind: str
    detail: str
    status: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind != REJECTED

    @property
    def connection_failed(self) -> bool:
        """The endpoint could not be reached at all (it is worth skipping for a while)."""
        return self.kind in (REFUSED, UNREACHABLE)

    @property
    def rejects_template_kwargs(self) -> bool:
        """A 400/422 complaining about ``chat_template_kwargs`` (a server that has none)."""
        text = self.detail.lower()
        return self.status in (400, 422) and any(word in text for word in TEMPLATE_KWARGS_WORDS)


def classify(exc: BaseException, *, timeout: float, secrets: Iterable[str] = ()) -> Failure:
    """The :class:`Failure` an exception from the openai client stands for.

    Parameters
    ----------
    exc : what the request raised (or the pool's deadline: a ``TimeoutError``).
    timeout : the deadline, for the message.
    secrets : the API key and the URL's credentials, blanked out of what the server said
        (a server may echo them back).

    Returns
    -------
    Failure

    Raises
    ------
    BaseException
        ``exc`` again when it is not a failure of the endpoint (a bug on our side).
    """
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return Failure(TIMEOUT, f"did not finish answering within the {timeout:g} s deadline")
    if isinstance(exc, openai.APIConnectionError):
        causes = _causes(exc)
        if any(
            isinstance(c, ConnectionRefusedError) or "refused" in str(c).lower() for c in causes
        ):
            return Failure(REFUSED, "refused the connection")
        reason = next((str(c) for c in reversed(causes) if str(c)), "no reason given")
        return Failure(UNREACHABLE, f"could not be reached ({_blank(reason, secrets)})")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = f"{status} {_phrase(status)}"
        said = _blank(_server_message(exc.body), secrets)
        if said:
            detail += f" ({clip(said, 300, squash=True)})"
        if status == 429:
            headers = dict(exc.response.headers)
            return Failure(RATE_LIMITED, detail, status, parse_retry_after(headers))
        kind = SERVER if status >= 500 else REJECTED
        return Failure(kind, detail, status)
    if isinstance(
        exc, openai.APIResponseValidationError | MalformedResponse | json.JSONDecodeError
    ):
        said = _blank(str(exc), secrets)
        return Failure(MALFORMED, f"sent a response that is not a chat completion ({said})")
    raise exc


def context_overflow(error: BaseException) -> bool:
    """Whether ``error`` is a server's refusal of a request too long for the model's
    context (a :class:`~rerank.errors.RequestRejectedError` saying so).

    >>> context_overflow(RequestRejectedError("x rejected the request: 400 Bad Request "
    ...     "(the request exceeds the available context size, try increasing it)", status=400))
    True
    """
    return isinstance(error, RequestRejectedError) and bool(_OVERFLOW.search(str(error)))


def no_endpoint_answered(tried: Sequence[tuple[str, Failure]]) -> EndpointError:
    """The error for a call that exhausted its retries; names every endpoint tried."""
    seen: dict[str, list[Failure]] = {}
    for url, failure in tried:
        seen.setdefault(url, []).append(failure)
    parts = []
    for url, failures in seen.items():
        detail = failures[-1].detail
        sep = " " if failures[-1].kind in (REFUSED, UNREACHABLE, TIMEOUT, MALFORMED) else ": "
        times = f" ({len(failures)} attempts)" if len(failures) > 1 else ""
        parts.append(f"{url}{sep}{detail}{times}")
    hints = dict.fromkeys(HINTS[f.kind] for _, f in tried if f.kind in HINTS)
    message = f"no endpoint answered: {'; '.join(parts)}. {' '.join(hints)}".strip()
    return EndpointError(message)


def request_rejected(url: str, failure: Failure) -> RequestRejectedError:
    """The error for a 4xx that retrying cannot fix, with the server's own words."""
    if failure.status in (401, 403):
        hint = "Check the API key (--api-key, $RERANK_API_KEY or $OPENAI_API_KEY)."
    elif failure.status == 404:
        hint = "Check --model and that --base-url ends in /v1."
    else:
        hint = "Check --model and the request options."
    message = f"{url} rejected the request: {failure.detail}. {hint}"
    return RequestRejectedError(message, status=failure.status or 0)


def _blank(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def _causes(exc: BaseException) -> list[BaseException]:
    causes: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in causes:
        causes.append(current)
        current = current.__cause__ or current.__context__
    return causes


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _server_message(body: Any) -> str:
    """The message inside an error body: ``{"message": ...}`` (openai unwraps ``error``),
    vLLM's ``{"object": "error", "message": ...}``, or plain text."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or inner)
        return str(inner)
    return "" if body is None else str(body)
