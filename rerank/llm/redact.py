"""Credentials inside endpoint URLs, masked before a URL is shown or stored.

A base URL may carry a key: ``http://user:KEY@host/v1`` (sent as HTTP basic auth) or
``http://host/v1?api_key=KEY``. :func:`redact_url` masks the password, a user name that
looks like a key, and the values of key-like query parameters; every error message, log
line, status and recorded spec shows a URL through it, while requests use the real one.
:func:`url_secrets` gives the same credentials as strings, to blank out of what a server
says (it may echo them back), and :func:`redact_urls` masks every URL inside a text.

This module imports nothing heavy: judges that never ask an LLM use it too.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["MASK", "redact_spec", "redact_url", "redact_urls", "url_secrets"]

MASK = "***"

# A query parameter whose name contains one of these carries a credential
# (api_key, apikey, key, token, access_token, auth, password, sig, X-Goog-Signature, ...).
KEY_PARAM_WORDS = ("key", "token", "secret", "pass", "pwd", "auth", "credential", "sig")

# A URL inside free text (a judge spec, a message) ends at a space, a quote or a comma
# (the separator of judge spec options).
URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s,'\"<>]+")


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by ``***``; the rest is left as written.

    Masked are the userinfo password, the user name when it is the only credential or
    looks like a key (16 characters or more, or any digit), and the value of every query
    parameter whose name says key, token, secret, password, auth or signature.

    >>> redact_url("http://bob:hunter2@gpu1:8000/v1?api_key=sk-123&mode=fast")
    'http://bob:***@gpu1:8000/v1?api_key=***&mode=fast'
    >>> redact_url("https://sk-live-4242@api.example.com/v1")
    'https://***@api.example.com/v1'
    >>> redact_url("http://localhost:8000/v1")
    'http://localhost:8000/v1'
    """
    for start, end in reversed(_secret_spans(url)):
        url = url[:start] + MASK + url[end:]
    return url


def redact_urls(text: str) -> str:
    """``text`` with :func:`redact_url` applied to every URL in it.

    >>> redact_urls("llm:base_url=http://h/v1?token=abc,model=m")
    'llm:base_url=http://h/v1?token=***,model=m'
    """
    return URL_IN_TEXT.sub(lambda found: redact_url(found.group()), text)


# A judge spec option (``llm:api_key=KEY,model=m``) whose name says it holds a credential.
# (``api_key``, ``key``, ``access_token``, ``password``; not ``max_tokens``).
_SPEC_SECRET = re.compile(
    r"(?P<name>(?:^|(?<=[:,]))\s*(?:[A-Za-z]+_)?"
    r"(?:api_?key|key|token|secret|password|passwd|pwd|auth|credentials?)\s*=)"
    r"(?P<value>[^,]*)",
    re.I,
)


def redact_spec(spec: str) -> str:
    """A judge spec with its URLs masked and the values of key-like options replaced.

    >>> redact_spec("llm:api_key=sk-1,base_url=http://u:p@h/v1,model=m")
    'llm:api_key=***,base_url=http://u:***@h/v1,model=m'
    """
    return _SPEC_SECRET.sub(lambda m: m.group("name") + MASK, redact_urls(spec))


def url_secrets(url: str) -> tuple[str, ...]:
    """The credentials :func:`redact_url` masks in ``url``, as written and percent-decoded.

    >>> url_secrets("http://bob:p%40ss@h/v1?key=k1")
    ('p%40ss', 'p@ss', 'k1')
    """
    found = [url[start:end] for start, end in _secret_spans(url)]
    return tuple(dict.fromkeys(s for raw in found for s in (raw, unquote(raw))))


def _secret_spans(url: str) -> list[tuple[int, int]]:
    """The (start, end) positions of the credentials in ``url``, in order."""
    spans: list[tuple[int, int]] = []
    slashes = url.find("//")
    start = slashes + 2 if slashes >= 0 else 0  # "user:key@host:8000" has no scheme
    end = min((i for i in (url.find(c, start) for c in "/?#") if i >= 0), default=len(url))
    at = url.rfind("@", start, end)
    if at >= 0:
        colon = url.find(":", start, at)
        user_end = colon if colon >= 0 else at
        user = url[start:user_end]
        if user and (colon < 0 or len(user) >= 16 or any(c.isdigit() for c in user)):
            spans.append((start, user_end))
        if colon >= 0 and at > colon + 1:
            spans.append((colon + 1, at))
    query = url.find("?", end)
    if query >= 0:
        fragment = url.find("#", query)
        position = query + 1
        for pair in url[query + 1 : fragment if fragment >= 0 else len(url)].split("&"):
            name, equals, value = pair.partition("=")
            if equals and value and any(w in name.lower() for w in KEY_PARAM_WORDS):
                spans.append((position + len(name) + 1, position + len(pair)))
            position += len(pair) + 1
    return spans
