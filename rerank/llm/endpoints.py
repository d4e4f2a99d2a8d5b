"""Endpoint bookkeeping for the pool: base URL parsing, the API key, health, and waits.

Everything here is pure or local state; the network is in :mod:`rerank.llm.client`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from time import time
from urllib.parse import urlsplit, urlunsplit

from rerank.errors import ConfigError
from rerank.llm.redact import redact_url, url_secrets

__all__ = [
    "PLACEHOLDER_API_KEY",
    "Endpoint",
    "EndpointStatus",
    "parse_base_urls",
    "parse_retry_after",
    "resolve_api_key",
    "retry_delay",
]

# Local servers (vLLM, SGLang, llama.cpp) accept any key; the openai client insists on one.
PLACEHOLDER_API_KEY = "EMPTY"


def parse_base_urls(values: str | Iterable[str]) -> list[str]:
    """Base URLs from ``--base-url`` values, each comma separated, in order, without repeats.

    Parameters
    ----------
    values : one value or several, each one URL or several separated by commas.

    Returns
    -------
    list of URLs: one without a path gets ``/v1`` (``http://host:8000`` ->
    ``http://host:8000/v1``); a trailing slash is dropped; a query string
    (``?api_key=...``) stays after the path.

    Raises
    ------
    ConfigError
        for a value that is not an http(s) URL, or no URL at all.

    Examples
    --------
    >>> parse_base_urls(["http://a:8000/v1,http://b:8000", "http://a:8000/v1/"])
    ['http://a:8000/v1', 'http://b:8000/v1']
    """
    if isinstance(values, str):
        values = [values]
    urls: list[str] = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            parts = urlsplit(part.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(
                    f"--base-url {redact_url(part.strip())!r} is not an http(s) URL: "
                    f"write it like http://localhost:8000/v1"
                )
            url = urlunsplit(parts._replace(path=parts.path.rstrip("/") or "/v1"))
            if url not in urls:
                urls.append(url)
    if not urls:
        raise ConfigError("no endpoint given: set --base-url http://HOST:PORT/v1")
    return urls


def resolve_api_key(api_key: str | None = None) -> str:
    """The argument, else ``$RERANK_API_KEY``, else ``$OPENAI_API_KEY``, else a placeholder."""
    for candidate in (api_key, os.environ.get("RERANK_API_KEY"), os.environ.get("OPENAI_API_KEY")):
        if candidate:
            return candidate
    return PLACEHOLDER_API_KEY


def parse_retry_after(headers: dict[str, str] | None) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms`` or ``Retry-After``, in seconds
    or as an HTTP date), or ``None`` when it did not say or said nonsense."""
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None


def retry_delay(
    round_: int,
    *,
    backoff: float,
    max_wait: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry round ``round_`` (1 for the first retry).

    Parameters
    ----------
    round_ : the retry round, from 1.
    backoff : the base wait of the first round.
    max_wait : the most seconds ever returned.
    retry_after : what a server asked for, if it did (a floor).
    rng : the jitter's source (default: the ``random`` module).

    Returns
    -------
    float: a uniform draw in ``[b/2, b]`` where ``b = backoff * 2 ** (round_ - 1)`` (exponential
    backoff with jitter), at least ``retry_after``, at most ``max_wait``.
    """
    base = backoff * 2 ** max(0, round_ - 1)
    jittered = base * (0.5 + 0.5 * (rng or random).random())
    return min(max_wait, max(jittered, retry_after or 0.0))


@dataclass(frozen=True)
class EndpointStatus:
    """A snapshot of one endpoint, for progress displays and tests (``url`` is masked)."""

    url: str
    capacity: int
    in_flight: int
    healthy: bool
    requests: int
    failures: int
    sends_template_kwargs: bool


class Endpoint:
    """One base URL: its concurrency cap, what is in flight, and whether it is cooling down.

    ``url`` is what requests go to; ``shown`` is the same URL with its credentials masked,
    for every message, log line and record; ``secrets`` are those credentials, to blank
    out of what the server says."""

    def __init__(self, url: str, capacity: int) -> None:
        self.url = url
        self.shown = redact_url(url)
        self.secrets = url_secrets(url)
        if capacity < 1:
            raise ConfigError(f"concurrency for {self.shown} must be at least 1, not {capacity}")
        self.capacity = capacity
        self.in_flight = 0
        self.unhealthy_until = 0.0
        self.requests = 0
        self.failures = 0
        # Cleared for good once the server rejects chat_template_kwargs.
        self.sends_template_kwargs = True

    def healthy(self, now: float) -> bool:
        return now >= self.unhealthy_until

    def has_slot(self) -> bool:
        return self.in_flight < self.capacity

    def status(self, now: float) -> EndpointStatus:
        return EndpointStatus(
            self.shown,
            self.capacity,
            self.in_flight,
            self.healthy(now),
            self.requests,
            self.failures,
            self.sends_template_kwargs,
        )

    def __repr__(self) -> str:
        return f"Endpoint({self.shown!r}, capacity={self.capacity})"
