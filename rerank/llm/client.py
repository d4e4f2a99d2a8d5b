"""The endpoint pool: chat completions over several OpenAI-compatible servers.

:class:`EndpointPool` spreads calls round-robin over its base URLs, never runs more than an
endpoint's concurrency cap at once on it, and moves a failed call on to another endpoint
(connection refused, timeout, 5xx, 429, a malformed answer), waiting with exponential
backoff and jitter between rounds. A 4xx other than 429 is the request's fault and raises
:class:`~rerank.errors.RequestRejectedError` at once. One ``openai.AsyncOpenAI`` client per
base URL does the HTTP, with its own retries off so that retries happen here, where the
other endpoints are known.

``timeout`` is a deadline on each whole request (connecting, sending, and reading every
byte of the answer): the client's own timeout bounds each read, so a server that trickles
a few bytes at a time would outlast it, and the pool cancels the request when the deadline
passes. URLs are shown masked (:func:`~rerank.llm.redact.redact_url`) wherever they appear.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import openai

from rerank.errors import ConfigError, EndpointError, MalformedResponse
from rerank.llm.endpoints import (
    PLACEHOLDER_API_KEY,
    Endpoint,
    EndpointStatus,
    parse_base_urls,
    resolve_api_key,
    retry_delay,
)
from rerank.llm.failures import Failure, classify, no_endpoint_answered, request_rejected
from rerank.llm.redact import redact_urls
from rerank.llm.server_info import ServerInfo, from_models, from_props

__all__ = ["ChatResult", "EndpointPool", "ToolCall", "Usage"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class _MaskedURLs(logging.Filter):
    """Masks URL credentials in a log line: the HTTP library under openai logs every
    request's full URL (``?api_key=...`` included) at INFO level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = redact_urls(message), None
        return True


for _library in ("httpx", "httpx2"):  # whichever one this openai uses
    logging.getLogger(_library).addFilter(_MaskedURLs())


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; ``arguments`` is the raw JSON text it wrote."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class Usage:
    """Calls, tokens and seconds. The fields are those of :class:`rerank.judges.Cost`, so a
    judge builds one with ``Cost(**dataclasses.asdict(usage))``. ``cached_tokens`` are the
    prompt tokens the server served from its prompt cache (OpenAI's
    ``usage.prompt_tokens_details.cached_tokens``, else llama.cpp's ``timings.cache_n``)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.seconds + other.seconds,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(frozen=True)
class ChatResult:
    """One answered chat call: the assistant message, why it stopped, what it cost
    (``usage.seconds`` is the wall time of the call, retries included), the endpoint that
    answered (its URL with credentials masked), the number of requests sent to get there
    and the seconds spent waiting between retry rounds. ``top_logprobs`` holds the most
    likely first tokens of the reply with their log-probabilities, most likely first, when
    the request asked for them (``logprobs=True, top_logprobs=K``) and the server sent
    them; ``None`` otherwise."""

    content: str | None
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    usage: Usage
    endpoint: str
    attempts: int
    model: str
    reasoning: str | None = None
    waited: float = 0.0
    top_logprobs: tuple[tuple[str, float], ...] | None = None

    @property
    def latency(self) -> float:
        return self.usage.seconds

    def as_message(self) -> dict[str, Any]:
        """The assistant message to append to the conversation for the next turn."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return message


class EndpointPool:
    """Chat completions over one or more OpenAI-compatible base URLs (a
    :class:`~rerank.llm.ChatBackend`).

    ``concurrency`` caps the requests in flight per endpoint (one number for all, or one
    per URL). A call is tried on each endpoint in turn; after every endpoint has failed it
    waits (exponential ``backoff`` with jitter, or the server's Retry-After, at most
    ``max_wait`` seconds) and starts another round, ``retries`` times. An endpoint that
    refuses connections is skipped for ``cooldown`` seconds while others answer.
    ``timeout`` is the deadline of each request, from connecting to the last byte of the
    answer; a request that misses it is a failure like a refused connection.
    ``enable_thinking`` is sent as ``chat_template_kwargs``; an endpoint that rejects the
    field gets the request again without it, and never again. ``model=None`` asks the
    first endpoint that answers ``/v1/models`` and uses its first model. The API key is
    ``api_key``, else ``$RERANK_API_KEY``, else ``$OPENAI_API_KEY``, else a placeholder;
    it appears in no repr, log line or error message, nor do the credentials a base URL
    carries (``http://user:KEY@host/v1``, ``?api_key=KEY``): those are shown masked.

    ``totals`` adds up the :class:`Usage` of every answered call, ``waiting`` counts calls
    queued for a free slot and :meth:`status` shows each endpoint.

    Examples
    --------
    >>> pool = EndpointPool("http://gpu1:8000/v1,http://gpu2:8000/v1", "Qwen/Qwen3-8B")
    >>> [s.url for s in pool.status()]
    ['http://gpu1:8000/v1', 'http://gpu2:8000/v1']
    """

    def __init__(
        self,
        base_urls: str | Sequence[str],
        model: str | None = None,
        *,
        api_key: str | None = None,
        concurrency: int | Sequence[int] = 8,
        timeout: float = 120.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        cooldown: float = 30.0,
        enable_thinking: bool = False,
        seed: int | None = None,
    ) -> None:
        urls = parse_base_urls(base_urls)
        caps = [concurrency] * len(urls) if isinstance(concurrency, int) else list(concurrency)
        if len(caps) != len(urls):
            raise ConfigError(
                f"{len(caps)} concurrency limits for {len(urls)} endpoints: "
                "give one for all, or one per URL"
            )
        if retries < 0 or timeout <= 0:
            raise ConfigError(f"retries must be >= 0 and timeout > 0 (got {retries}, {timeout})")
        self.endpoints = [Endpoint(url, cap) for url, cap in zip(urls, caps, strict=True)]
        self.model = model
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.cooldown = cooldown
        self.enable_thinking = enable_thinking
        self.totals = Usage()
        self.waiting = 0
        self._api_key = resolve_api_key(api_key)
        self._secret = "" if self._api_key == PLACEHOLDER_API_KEY else self._api_key
        self._rng = random.Random(seed)
        self._cursor = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: dict[str, openai.AsyncOpenAI] = {}
        self._wakeups: list[asyncio.Future[None]] = []
        self._model_lock = asyncio.Lock()
        self._info: ServerInfo | None = None

    def __repr__(self) -> str:
        urls = [e.shown for e in self.endpoints]
        return f"EndpointPool({urls!r}, model={self.model!r})"

    def status(self) -> list[EndpointStatus]:
        """A snapshot of every endpoint: cap, requests in flight, health, counts."""
        now = time.monotonic()
        return [e.status(now) for e in self.endpoints]

    async def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: str | Mapping[str, Any] | None = None,
        temperature: float | None = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        **extra: Any,
    ) -> ChatResult:
        """One chat completion, failing over between endpoints; ``extra`` goes to
        ``chat.completions.create`` as it is (``extra_body`` is merged with ours)."""
        started = time.monotonic()
        model = await self.resolve_model()
        request: dict[str, Any] = {"model": model, "messages": list(messages), **extra}
        optional = {
            "tools": tools,
            "tool_choice": tool_choice,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "seed": seed,
        }
        request.update({k: v for k, v in optional.items() if v is not None})

        async def create(endpoint: Endpoint, with_template_kwargs: bool) -> Any:
            sent = dict(request)
            if with_template_kwargs:
                body = dict(sent.get("extra_body") or {})
                thinking = {"enable_thinking": self.enable_thinking}
                kwargs = {**body.get("chat_template_kwargs", {}), **thinking}
                sent["extra_body"] = {**body, "chat_template_kwargs": kwargs}
            completion = await self._client(endpoint).chat.completions.create(**sent)
            if not getattr(completion, "choices", None):
                raise MalformedResponse("no choices")
            return completion

        answered = await self._call(create)
        completion = answered.answer
        usage = Usage(
            calls=1,
            prompt_tokens=getattr(completion.usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(completion.usage, "completion_tokens", 0) or 0,
            seconds=time.monotonic() - started,
            cached_tokens=_cached_tokens(completion),
        )
        self.totals += usage
        return _chat_result(completion, usage, answered, model)

    async def resolve_model(self) -> str:
        """The model to ask for: the one given, else the first one the servers list."""
        if self.model is not None:
            return self.model
        self._bind_loop()
        async with self._model_lock:
            if self.model is None:

                async def list_models(endpoint: Endpoint, _: bool) -> list[str]:
                    page = await self._client(endpoint).models.list()
                    return [m.id for m in page.data]

                answered = await self._call(list_models)
                models, endpoint = answered.answer, answered.endpoint
                if not models:
                    raise EndpointError(
                        f"{endpoint.shown} serves no model (its /v1/models list is empty): "
                        "load one in the server, or pass --model"
                    )
                self.model = models[0]
                log.info("using model %s served by %s", self.model, endpoint.shown)
        return self.model

    async def server_info(self) -> ServerInfo:
        """What the endpoints say about themselves (context size, model size, slots), asked
        once (llama.cpp's ``/props``, every server's ``/v1/models``; see
        :mod:`rerank.llm.server_info`). The context is the smallest any endpoint reports.
        Advisory: an endpoint that does not answer adds nothing, and this never raises."""
        if self._info is None:
            self._bind_loop()
            found = await asyncio.gather(*(self._endpoint_info(e) for e in self.endpoints))
            info = ServerInfo()
            for one in found:
                info = info.merged(one)
            self._info = info
        return self._info

    async def _endpoint_info(self, endpoint: Endpoint) -> ServerInfo:
        client = self._client(endpoint)
        parts = urlsplit(endpoint.url)
        root = urlunsplit(parts._replace(path=parts.path.rstrip("/").removesuffix("/v1"), query=""))

        async def get(url: str) -> Any:
            try:
                async with asyncio.timeout(min(self.timeout, 30.0)):
                    return await client.get(url, cast_to=object)
            except Exception as exc:  # advisory: a server without the route says nothing
                log.debug("%s: %s", redact_urls(url), type(exc).__name__)
                return None

        props, models = await asyncio.gather(get(f"{root}/props"), get("/models"))
        return from_props(props).merged(from_models(models, self.model))

    async def aclose(self) -> None:
        """Close the HTTP clients (the pool may be used again afterwards)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    async def __aenter__(self) -> EndpointPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- failover -------------------------------------------------------------------------

    async def _call(self, send: Callable[[Endpoint, bool], Awaitable[T]]) -> _EndpointAnswer[T]:
        """Run ``send`` on one endpoint after another until one answers."""
        self._bind_loop()
        tried: list[tuple[str, Failure]] = []
        asked: list[float] = []  # the Retry-After values of the last round
        attempts, waited = 0, 0.0
        for round_ in range(self.retries + 1):
            if round_:
                delay = retry_delay(
                    round_,
                    backoff=self.backoff,
                    max_wait=self.max_wait,
                    retry_after=max(asked, default=None),
                    rng=self._rng,
                )
                await asyncio.sleep(delay)
                waited += delay
            asked = []
            used: set[Endpoint] = set()
            while (endpoint := await self._acquire(exclude=used)) is not None:
                used.add(endpoint)
                try:
                    answer, failure, requests = await self._attempt(endpoint, send)
                finally:
                    self._release(endpoint)
                attempts += requests
                if failure is None:
                    return _EndpointAnswer(answer, endpoint, attempts, waited)  # type: ignore[arg-type]
                if not failure.retryable:
                    raise request_rejected(endpoint.shown, failure)
                if failure.connection_failed:
                    endpoint.unhealthy_until = time.monotonic() + self.cooldown
                if failure.retry_after is not None:
                    asked.append(failure.retry_after)
                log.info("%s %s; trying another endpoint", endpoint.shown, failure.detail)
                tried.append((endpoint.shown, failure))
        raise no_endpoint_answered(tried)

    async def _attempt(
        self, endpoint: Endpoint, send: Callable[[Endpoint, bool], Awaitable[T]]
    ) -> tuple[T | None, Failure | None, int]:
        """Send once, within the deadline; if the endpoint rejects ``chat_template_kwargs``,
        once more without them. Returns the answer or the failure, and the number of
        requests sent."""
        with_kwargs = endpoint.sends_template_kwargs
        secrets = (self._secret, *endpoint.secrets)
        for requests in (1, 2):
            endpoint.requests += 1
            try:
                async with asyncio.timeout(self.timeout):
                    return await send(endpoint, with_kwargs), None, requests
            except Exception as exc:  # classify() re-raises what is not the endpoint's fault
                failure = classify(exc, timeout=self.timeout, secrets=secrets)
            # Decided on what this request carried: a concurrent call may have cleared the
            # flag since, and its own rejection is then just as much about the field.
            if not (with_kwargs and failure.rejects_template_kwargs):
                break
            log.info("%s rejects chat_template_kwargs; not sent again", endpoint.shown)
            endpoint.sends_template_kwargs = with_kwargs = False
        endpoint.failures += 1
        return None, failure, requests

    async def _acquire(self, *, exclude: set[Endpoint]) -> Endpoint | None:
        """Take a slot on the next endpoint in round-robin order not in ``exclude``,
        healthy ones first, waiting for a free slot; ``None`` when none is left."""
        while True:
            # No await between looking and taking: on one event loop this is atomic.
            now = time.monotonic()
            order = self.endpoints[self._cursor :] + self.endpoints[: self._cursor]
            left = [e for e in order if e not in exclude]
            if not left:
                return None
            choices = [e for e in left if e.healthy(now)] or left
            free = next((e for e in choices if e.has_slot()), None)
            if free is not None:
                free.in_flight += 1
                self._cursor = (self.endpoints.index(free) + 1) % len(self.endpoints)
                return free
            wakeup = asyncio.get_running_loop().create_future()
            self._wakeups.append(wakeup)
            self.waiting += 1
            try:
                await wakeup
            finally:
                self.waiting -= 1

    def _release(self, endpoint: Endpoint) -> None:
        """Give the slot back and let every waiting call look again."""
        endpoint.in_flight -= 1
        wakeups, self._wakeups = self._wakeups, []
        for wakeup in wakeups:
            if not wakeup.done():
                wakeup.set_result(None)

    def _client(self, endpoint: Endpoint) -> openai.AsyncOpenAI:
        client = self._clients.get(endpoint.url)
        if client is None:
            # The client appends paths to its base URL as text, so a query string there
            # (?api_key=...) would swallow them: it goes on every request as a query.
            parts = urlsplit(endpoint.url)
            client = openai.AsyncOpenAI(
                base_url=urlunsplit(parts._replace(query="", fragment="")),
                default_query=dict(parse_qsl(parts.query, keep_blank_values=True)) or None,
                api_key=self._api_key,
                timeout=self.timeout,
                max_retries=0,
            )
            self._clients[endpoint.url] = client
        return client

    def _bind_loop(self) -> None:
        """Start afresh in a new event loop (each ``asyncio.run`` of a sync wrapper makes
        one): locks and HTTP connections belong to the loop that made them."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._clients = {}
            self._wakeups = []
            self._model_lock = asyncio.Lock()
            self.waiting = 0
            for endpoint in self.endpoints:
                endpoint.in_flight = 0


@dataclass(frozen=True)
class _EndpointAnswer(Generic[T]):
    """What :meth:`EndpointPool._call` got, from where, with how many requests and waits."""

    answer: T
    endpoint: Endpoint
    attempts: int
    waited: float


def _chat_result(
    completion: Any, usage: Usage, answered: _EndpointAnswer[Any], model: str
) -> ChatResult:
    choice = completion.choices[0]
    message = choice.message
    calls = tuple(
        ToolCall(call.function.name, call.function.arguments or "{}", call.id)
        for call in (message.tool_calls or ())
        if getattr(call, "function", None) is not None
    )
    # vLLM and SGLang put a thinking model's reasoning beside the content.
    extra = getattr(message, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    return ChatResult(
        content=message.content,
        tool_calls=calls,
        finish_reason=choice.finish_reason,
        usage=usage,
        endpoint=answered.endpoint.shown,
        attempts=answered.attempts,
        model=getattr(completion, "model", None) or model,
        reasoning=reasoning,
        waited=answered.waited,
        top_logprobs=_first_token_alternatives(choice),
    )


def _first_token_alternatives(choice: Any) -> tuple[tuple[str, float], ...] | None:
    """The first generated token's ``top_logprobs`` as (token, logprob), or ``None`` when
    the server sent none."""
    tokens = getattr(getattr(choice, "logprobs", None), "content", None)
    if not tokens:
        return None
    first = tokens[0]
    alternatives = getattr(first, "top_logprobs", None) or ()
    found = [
        (str(t.token), float(t.logprob))
        for t in alternatives
        if getattr(t, "token", None) is not None and isinstance(t.logprob, int | float)
    ]
    if not found and getattr(first, "token", None) is not None:  # top_logprobs=0
        found = [(str(first.token), float(first.logprob))]
    return tuple(found) or None


def _cached_tokens(completion: Any) -> int:
    """The prompt tokens the server served from its cache, as it reports them."""
    details = getattr(getattr(completion, "usage", None), "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None)
    if isinstance(cached, int):
        return cached
    timings = (getattr(completion, "model_extra", None) or {}).get("timings")
    cached = timings.get("cache_n") if isinstance(timings, dict) else None
    return cached if isinstance(cached, int) else 0
