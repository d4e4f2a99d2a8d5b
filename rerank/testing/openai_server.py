"""A real OpenAI-compatible HTTP server on loopback, scripted by the test that runs it.

The server answers ``POST /v1/chat/completions`` from a queue of replies the test enqueues,
``GET /v1/models`` from its model list and ``GET /health`` with ``{"status": "ok"}``. Given
a ``context`` (or ``parameters``) it describes itself as llama.cpp does (``GET /props``,
``meta`` in the model list) or, with ``flavour="vllm"``, as vLLM does (``max_model_len``),
and refuses a request whose prompt (counted in words) and ``max_tokens`` exceed the
context, with llama.cpp's (or vLLM's) error. A request that asks for ``logprobs`` gets the
first token's ``top_logprobs``: the message's own, or else its first word with
log-probability 0; ``logprobs=False`` makes a server that never sends them. It
records every request (the API key only as a SHA-256, so a test can check it was sent
without the server keeping it), counts requests in flight, and runs in a background thread
until closed::

    with OpenAIServer() as server:
        server.enqueue(Message("Verdict: A"), ErrorReply(429, headers={"Retry-After": "1"}))
        client = openai.OpenAI(base_url=server.base_url, api_key="k")
        ...
        assert server.requests[0].body["model"] == "test-model"

A reply is a :class:`Message`, an :class:`ErrorReply`, a :class:`RawReply` (any bytes, such
as malformed JSON), a :class:`Delay` (held until an event is set, to trigger client
timeouts), a :class:`Trickle` (sent a few bytes at a time, so that no single read ever
times out) or a callable ``(request_json) -> reply``. When the queue is empty the server gives
its ``default`` reply, a 500 "no scripted reply" unless set, so an unexpected extra call fails
loudly. :func:`refusing_endpoint` gives a base URL whose port refuses connections.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Union

from rerank.llm.client import ToolCall

__all__ = [
    "Delay",
    "ErrorReply",
    "Message",
    "OpenAIServer",
    "RawReply",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Trickle",
    "openai_server_fixture",
    "refusing_endpoint",
]

# A held reply never outlives this, so a forgotten gate cannot hang a test run for ever.
MAX_HOLD_SECONDS = 60.0


@dataclass(frozen=True)
class Message:
    """An assistant message; ``reasoning`` is sent as ``reasoning_content``, as vLLM sends a
    thinking model's reasoning. Token counts default to word counts of request and reply.

    ``top_logprobs`` maps the first token's alternatives to their log-probabilities (sent,
    most likely first, when the request asks for ``logprobs``); by default the first word
    of ``content`` has log-probability 0. ``cached_tokens`` is reported as
    ``usage.prompt_tokens_details.cached_tokens`` when given."""

    content: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    top_logprobs: Mapping[str, float] | None = None
    cached_tokens: int | None = None

    def alternatives(self, count: int | None = None) -> list[tuple[str, float]]:
        """The first token's alternatives, most likely first (at most ``count``)."""
        if self.top_logprobs is not None:
            found = sorted(self.top_logprobs.items(), key=lambda kv: -kv[1])
        else:
            words = (self.content or "").split()
            found = [(words[0], 0.0)] if words else []
        return found[: max(count, 1)] if count is not None else found


@dataclass(frozen=True)
class ErrorReply:
    """An HTTP error with an OpenAI-style body ``{"error": {"message": ...}}`` unless ``body``
    is given (a dict is sent as JSON, a string as it is)."""

    status: int
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: dict[str, Any] | str | None = None


@dataclass(frozen=True)
class RawReply:
    """Bytes sent as they are, such as a body that is not JSON."""

    body: bytes | str
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class Delay:
    """Hold the request until ``gate`` is set (or ``seconds`` pass, or the server closes),
    then give ``then``. Pair it with a shorter client timeout to make the client give up."""

    then: Reply
    gate: threading.Event | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Trickle:
    """Send ``then`` slowly: the status line and headers at once, then the body ``chunk``
    bytes every ``interval`` seconds. Every read of the client gets bytes within its read
    timeout, so only a deadline on the whole request stops it. It stops when the client
    hangs up or the server closes; after ``MAX_HOLD_SECONDS`` the rest goes at once."""

    then: Reply
    chunk: int = 4
    interval: float = 0.5


Reply = Union[Message, ErrorReply, RawReply, Delay, Trickle, Callable[[dict[str, Any]], "Reply"]]  # noqa: UP007


@dataclass(frozen=True)
class RecordedRequest:
    """What the server received. ``headers`` (lower-case names) leave out Authorization;
    ``api_key_sha256`` is the SHA-256 of the bearer token, if one was sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api_key_sha256: str | None

    def carries_key(self, api_key: str) -> bool:
        """Whether the request was sent with ``Authorization: Bearer <api_key>``."""
        return self.api_key_sha256 == hashlib.sha256(api_key.encode()).hexdigest()


NO_SCRIPTED_REPLY = ErrorReply(500, "no scripted reply left: the test made an unexpected request")


class OpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1`` and a free port; see the module docstring."""

    def __init__(
        self,
        *,
        models: Sequence[str] = ("test-model",),
        default: Reply | None = None,
        logprobs: bool = True,
        context: int | None = None,
        parameters: int | None = None,
        flavour: str = "llama.cpp",
    ):
        if flavour not in ("llama.cpp", "vllm"):
            raise ValueError(f"flavour must be 'llama.cpp' or 'vllm', not {flavour!r}")
        self.models = tuple(models)
        self.default: Reply = default if default is not None else NO_SCRIPTED_REPLY
        self.logprobs = logprobs
        self.context = context
        self.parameters = parameters
        self.flavour = flavour
        self._replies: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._connections: set[socket.socket] = set()
        self._gates: set[threading.Event] = set()
        self._ids = itertools.count(1)
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> OpenAIServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.scripted = self  # type: ignore[attr-defined]
        self._httpd = httpd
        # A short poll interval keeps close() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="openai-server"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, release held replies (setting their gates) and drop connections."""
        if self._httpd is None:
            return
        self._closed.set()
        with self._changed:
            gates, connections = list(self._gates), list(self._connections)
        for gate in gates:
            gate.set()
        self._httpd.shutdown()
        for connection in connections:
            # Wakes handler threads blocked reading the next keep-alive request.
            with _ignoring_socket_errors():
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running: use it as a context manager")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- scripting and inspection -------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Answer the next chat completions with these replies, in order."""
        with self._changed:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """Scripted replies not yet given."""
        with self._changed:
            return len(self._replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._changed:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The chat completion requests received so far (whatever their query string)."""
        return [r for r in self.requests if r.path.split("?")[0].endswith("/chat/completions")]

    def wait_until(self, condition: Callable[[OpenAIServer], bool], timeout: float = 10) -> bool:
        """Block until ``condition(server)`` holds, re-checked whenever a request starts or
        ends; false if it still does not after ``timeout`` seconds (a guard, not a clock)."""
        with self._changed:
            return self._changed.wait_for(lambda: condition(self), timeout)

    # -- used by the handler ------------------------------------------------------------

    def _begin(self, request: RecordedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()

    def _end(self) -> None:
        with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def _next_reply(self) -> Reply:
        with self._changed:
            return self._replies.popleft() if self._replies else self.default

    def _resolve(
        self, reply: Reply, body: dict[str, Any]
    ) -> tuple[Message | ErrorReply | RawReply, Trickle | None]:
        """The reply to send, and the pace to send it at (``None``: at once)."""
        pace = None
        while True:
            if isinstance(reply, Trickle):
                pace, reply = reply, reply.then
            elif isinstance(reply, Delay):
                gate = reply.gate or self._closed
                with self._changed:
                    self._gates.add(gate)
                if not self._closed.is_set():
                    gate.wait(min(reply.seconds or MAX_HOLD_SECONDS, MAX_HOLD_SECONDS))
                reply = reply.then
            elif isinstance(reply, Message | ErrorReply | RawReply):
                return reply, pace
            else:
                reply = reply(body)

    def _completion(self, message: Message, body: dict[str, Any]) -> dict[str, Any]:
        number = next(self._ids)
        calls = [
            {
                "id": call.id or f"call_{number}_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for i, call in enumerate(message.tool_calls)
        ]
        prompt = message.prompt_tokens
        if prompt is None:
            prompt = sum(_words(m.get("content")) for m in body.get("messages", []))
        completion = message.completion_tokens
        if completion is None:
            completion = _words(message.content) + sum(
                _words(c.arguments) for c in message.tool_calls
            )
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or (self.models[0] if self.models else "unknown"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": message.content,
                        "tool_calls": calls or None,
                        **({"reasoning_content": message.reasoning} if message.reasoning else {}),
                    },
                    "finish_reason": message.finish_reason or ("tool_calls" if calls else "stop"),
                    "logprobs": self._logprobs(message, body),
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                **(
                    {"prompt_tokens_details": {"cached_tokens": message.cached_tokens}}
                    if message.cached_tokens is not None
                    else {}
                ),
            },
        }

    def _logprobs(self, message: Message, body: dict[str, Any]) -> dict[str, Any] | None:
        """The ``logprobs`` of a choice, as OpenAI sends them, if the request asked."""
        if not (self.logprobs and body.get("logprobs")):
            return None
        count = body.get("top_logprobs")
        found = message.alternatives(count if isinstance(count, int) else None)
        if not found:
            return {"content": []}
        listed = [
            {"token": token, "logprob": logprob, "bytes": list(token.encode())}
            for token, logprob in found
        ]
        return {"content": [{**listed[0], "top_logprobs": listed}]}

    def prompt_words(self, body: dict[str, Any]) -> int:
        """The prompt's size as this server counts tokens: words of every message."""
        return sum(_words(m.get("content")) for m in body.get("messages", []))

    def overflow(self, body: dict[str, Any]) -> ErrorReply | None:
        """The server's refusal of a request that does not fit its context, if it does not."""
        if self.context is None:
            return None
        prompt = self.prompt_words(body)
        wanted = prompt + (body.get("max_tokens") or 0)
        if self.flavour == "vllm" and wanted > self.context:
            return ErrorReply(
                400,
                f"This model's maximum context length is {self.context} tokens. However, you "
                f"requested {wanted} tokens ({prompt} in the messages, "
                f"{wanted - prompt} in the completion). Please reduce the length.",
            )
        if self.flavour == "llama.cpp" and prompt > self.context:
            return ErrorReply(
                400,
                body={
                    "error": {
                        "code": 400,
                        "message": "the request exceeds the available context size, try "
                        "increasing it",
                        "type": "exceed_context_size_error",
                        "n_prompt_tokens": prompt,
                        "n_ctx": self.context,
                    }
                },
            )
        return None

    def model_entries(self) -> list[dict[str, Any]]:
        """The ``data`` of ``/v1/models``, described as the server's flavour does."""
        entries = []
        for model in self.models:
            entry: dict[str, Any] = {
                "id": model, "object": "model", "created": 0, "owned_by": "rerank.testing"
            }  # fmt: skip
            if self.flavour == "vllm" and self.context is not None:
                entry["max_model_len"] = self.context
            elif self.flavour == "llama.cpp" and (self.context or self.parameters):
                entry["meta"] = {
                    k: v
                    for k, v in (("n_ctx", self.context), ("n_params", self.parameters))
                    if v is not None
                }
            entries.append(entry)
        return entries


def _words(content: Any) -> int:
    if isinstance(content, str):
        return len(content.split())
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return sum(_words(part.get("text")) for part in content if isinstance(part, dict))
    return 0


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 makes a burst of new connections (a concurrent
    # round of matches) wait for the client to retry connecting.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers and the openai client use
    server_version = "rerank-testing-openai/1"

    @property
    def scripted(self) -> OpenAIServer:
        return self.server.scripted  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two sends; without TCP_NODELAY the second waits for
        # the client's delayed ACK (~40 ms per reply). Real servers (uvicorn, vLLM) set it.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.scripted._changed:
            self.scripted._connections.add(self.connection)

    def finish(self) -> None:
        with self.scripted._changed:
            self.scripted._connections.discard(self.connection)
        with _ignoring_socket_errors():
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the recorded requests say what happened."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        self.pace: Trickle | None = None  # set by _route for a Trickle reply
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"},
            body=body,
            api_key_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None,
        )
        server = self.scripted
        server._begin(recorded)
        try:
            reply = self._route(recorded)
        finally:
            # Counted as ended before the response goes out, so a client that has its
            # answer never sees its own request still counted in flight.
            server._end()
        with _ignoring_socket_errors():
            self._send(reply)

    def _route(self, request: RecordedRequest) -> tuple[int, dict[str, str], bytes]:
        server = self.scripted
        path = request.path.split("?")[0].rstrip("/")
        if self.command == "GET" and path == "/health":
            return _json(200, {"status": "ok"})
        if self.command == "GET" and path == "/v1/models":
            return _json(200, {"object": "list", "data": server.model_entries()})
        llama = server.flavour == "llama.cpp" and server.context is not None
        if self.command == "GET" and path == "/props" and llama:
            settings = {"n_ctx": server.context, "params": {"n_probs": 0}}
            return _json(200, {"default_generation_settings": settings, "total_slots": 1})
        if self.command == "POST" and path == "/v1/chat/completions":
            if not isinstance(request.body, dict):
                return _json(400, _error_body(400, "the request body is not a JSON object"))
            refused = server.overflow(request.body)
            reply, self.pace = server._resolve(refused or server._next_reply(), request.body)
            if isinstance(reply, Message):
                return _json(200, server._completion(reply, request.body))
            if isinstance(reply, RawReply):
                data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                return reply.status, {"Content-Type": reply.content_type}, data
            body = (
                reply.body if reply.body is not None else _error_body(reply.status, reply.message)
            )
            status, headers, data = (
                _json(reply.status, body)
                if isinstance(body, dict)
                else (reply.status, {"Content-Type": "text/plain"}, body.encode())
            )
            return status, {**headers, **reply.headers}, data
        return _json(404, _error_body(404, f"no route for {self.command} {path}"))

    def _send(self, reply: tuple[int, dict[str, str], bytes]) -> None:
        status, headers, data = reply
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        pace, started = self.pace, time.monotonic()
        while pace is not None and data and time.monotonic() - started < MAX_HOLD_SECONDS:
            self.wfile.write(data[: pace.chunk])
            self.wfile.flush()
            data = data[pace.chunk :]
            if self.scripted._closed.wait(pace.interval):
                return
        self.wfile.write(data)
        self.wfile.flush()


def _error_body(status: int, message: str) -> dict[str, Any]:
    try:
        kind = HTTPStatus(status).phrase.replace(" ", "")
    except ValueError:
        kind = "Error"
    return {"error": {"message": message, "type": kind, "param": None, "code": status}}


def _json(status: int, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _ignoring_socket_errors() -> suppress:
    # A client that timed out has closed its end: writing to it is expected to fail.
    return suppress(OSError)


@contextmanager
def refusing_endpoint() -> Iterator[str]:
    """A base URL on a loopback port that refuses connections.

    The port is bound but not listening, so connecting is refused at once and no other
    process can take the port while the block runs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        sock.close()


def openai_server_fixture(name: str = "openai_server", **options: Any) -> Any:
    """A pytest fixture giving a running :class:`OpenAIServer`, closed after the test.

    In a test module: ``server = openai_server_fixture("server")``; ``options`` go to
    :class:`OpenAIServer`. Several names give several independent servers.
    """
    import pytest  # only needed by tests, so not imported by the module

    @pytest.fixture(name=name)
    def fixture() -> Iterator[OpenAIServer]:
        with OpenAIServer(**options) as server:
            yield server

    return fixture
