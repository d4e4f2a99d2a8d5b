"""The scripted OpenAI-compatible test server, exercised with the real openai client."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from collections.abc import Callable, Iterator

import openai
import pytest

from rerank.testing import (
    Delay,
    ErrorReply,
    Message,
    OpenAIServer,
    RawReply,
    ToolCall,
    openai_server_fixture,
    refusing_endpoint,
)

server = openai_server_fixture("server", models=("served-model", "other-model"))

HELLO = [{"role": "user", "content": "say hello please"}]


@pytest.fixture
def client() -> Iterator[Callable[..., openai.OpenAI]]:
    """Makes openai clients without retries of their own, and closes them after the test."""
    made: list[openai.OpenAI] = []

    def make(base_url: str, *, api_key: str = "sk-test", timeout: float = 10.0) -> openai.OpenAI:
        made.append(
            openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=0)
        )
        return made[-1]

    yield make
    for api in made:
        api.close()


def test_fixture_gives_a_running_server_whose_base_url_ends_in_v1(server):
    """The fixture factory yields a started server; its base URL is the OpenAI one."""
    assert server.base_url.startswith("http://127.0.0.1:")
    assert server.base_url.endswith("/v1")
    with urllib.request.urlopen(f"{server.url}/health") as response:
        assert json.load(response) == {"status": "ok"}


def test_chat_completion_round_trip_has_content_and_usage(server, client):
    """A scripted message comes back as a ChatCompletion with usage that adds up."""
    server.enqueue(Message("hello to you", prompt_tokens=7))
    completion = client(server.base_url).chat.completions.create(model="m", messages=HELLO)
    assert completion.object == "chat.completion"
    assert completion.model == "m"
    assert completion.choices[0].message.content == "hello to you"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    assert completion.usage.total_tokens == 10


def test_tool_calls_round_trip_with_name_and_raw_arguments(server, client):
    """Scripted tool calls arrive as function calls with their arguments text intact."""
    server.enqueue(Message(tool_calls=[ToolCall("run_tests", '{"candidate": 2}', id="call_9")]))
    completion = client(server.base_url).chat.completions.create(model="m", messages=HELLO)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_9",
        "run_tests",
        '{"candidate": 2}',
    )


def test_replies_come_in_order_then_the_default_fails_loudly(server, client):
    """Replies are given first in, first out; an unscripted call gets a 500 saying so."""
    server.enqueue(Message("one"), Message("two"))
    api = client(server.base_url)
    contents = [api.chat.completions.create(model="m", messages=HELLO) for _ in range(2)]
    assert [c.choices[0].message.content for c in contents] == ["one", "two"]
    with pytest.raises(openai.InternalServerError, match="no scripted reply"):
        api.chat.completions.create(model="m", messages=HELLO)
    assert server.pending == 0


def test_error_reply_carries_status_message_and_headers(server, client):
    """An ErrorReply reaches the client as that status, message and headers."""
    server.enqueue(ErrorReply(429, "slow down", headers={"Retry-After": "3"}))
    with pytest.raises(openai.RateLimitError) as caught:
        client(server.base_url).chat.completions.create(model="m", messages=HELLO)
    assert caught.value.body["message"] == "slow down"
    assert caught.value.response.headers["retry-after"] == "3"


def test_raw_reply_is_sent_unchanged(server, client):
    """A RawReply's bytes reach the client as they are, malformed JSON included."""
    server.enqueue(RawReply("{not json"))
    with pytest.raises(ValueError):
        client(server.base_url).chat.completions.create(model="m", messages=HELLO)


def test_callable_reply_sees_the_request(server, client):
    """A callable reply is given the request JSON and its answer is sent."""
    server.enqueue(lambda body: Message(f"you asked {body['model']} at {body['temperature']}"))
    completion = client(server.base_url).chat.completions.create(
        model="judge", messages=HELLO, temperature=0.5
    )
    assert completion.choices[0].message.content == "you asked judge at 0.5"


def test_delay_holds_the_reply_until_the_gate_opens(server, client):
    """A Delay outlasts a short client timeout; the request was received all the same."""
    gate = threading.Event()
    server.enqueue(Delay(Message("late"), gate=gate))
    with pytest.raises(openai.APITimeoutError):
        client(server.base_url, timeout=0.2).chat.completions.create(model="m", messages=HELLO)
    gate.set()
    assert len(server.chat_requests) == 1


def test_closing_releases_held_replies(client):
    """Closing the server opens the gates of held replies, so no handler is left waiting."""
    gate = threading.Event()
    with OpenAIServer() as held:
        held.enqueue(Delay(Message("late"), gate=gate))
        api = client(held.base_url)
        outcome: list[object] = []

        def call() -> None:
            try:
                outcome.append(api.chat.completions.create(model="m", messages=HELLO))
            except openai.APIError as exc:  # the connection may close before the reply
                outcome.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        assert held.wait_until(lambda s: s.in_flight == 1)
    assert gate.is_set()
    caller.join()
    assert len(outcome) == 1


def test_requests_are_recorded_without_the_api_key(server, client):
    """Each request is recorded with path and JSON body; the key only as its SHA-256."""
    server.enqueue(Message("ok"))
    client(server.base_url, api_key="sk-secret-1").chat.completions.create(
        model="m", messages=HELLO, extra_body={"chat_template_kwargs": {"enable_thinking": False}}
    )
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "authorization" not in request.headers
    assert "sk-secret-1" not in repr(request)
    assert request.api_key_sha256 == hashlib.sha256(b"sk-secret-1").hexdigest()
    assert request.carries_key("sk-secret-1") and not request.carries_key("sk-other")


def test_models_lists_the_configured_models(server, client):
    """/v1/models lists the server's models in order."""
    models = client(server.base_url).models.list()
    assert [m.id for m in models.data] == ["served-model", "other-model"]
    assert server.requests[-1].path == "/v1/models"


def test_in_flight_counts_concurrent_requests(server, client):
    """in_flight and max_in_flight count requests being handled at the same time."""
    gate = threading.Event()
    server.default = Delay(Message("ok"), gate=gate)
    api = client(server.base_url)
    callers = [
        threading.Thread(
            target=api.chat.completions.create, kwargs={"model": "m", "messages": HELLO}
        )
        for _ in range(3)
    ]
    for caller in callers:
        caller.start()
    assert server.wait_until(lambda s: s.in_flight == 3)
    gate.set()
    for caller in callers:
        caller.join()
    assert (server.in_flight, server.max_in_flight) == (0, 3)


def test_refusing_endpoint_refuses_connections(client):
    """The refusing endpoint's port is bound but not listening: connecting fails at once."""
    with refusing_endpoint() as url, pytest.raises(openai.APIConnectionError) as caught:
        client(url).models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)


def test_logprobs_are_sent_when_asked(server, client):
    """A request with logprobs gets the first token's top_logprobs: scripted, or by default
    the reply's first word with log-probability 0; at most top_logprobs of them."""
    server.enqueue(
        Message("A", top_logprobs={"B": -1.5, "A": -0.3, "C": -4.0}), Message("yes it is")
    )
    api = client(server.base_url)
    scripted = api.chat.completions.create(
        model="m", messages=HELLO, logprobs=True, top_logprobs=2, max_tokens=1
    )
    first = scripted.choices[0].logprobs.content[0]
    assert (first.token, first.logprob) == ("A", -0.3)
    assert [(t.token, t.logprob) for t in first.top_logprobs] == [("A", -0.3), ("B", -1.5)]
    default = api.chat.completions.create(model="m", messages=HELLO, logprobs=True, top_logprobs=5)
    alternatives = default.choices[0].logprobs.content[0].top_logprobs
    assert [(t.token, t.logprob) for t in alternatives] == [("yes", 0.0)]


def test_logprobs_are_left_out_unless_asked_or_when_the_server_has_none(server, client):
    server.enqueue(Message("A"))
    plain = client(server.base_url).chat.completions.create(model="m", messages=HELLO)
    assert plain.choices[0].logprobs is None
    with OpenAIServer(logprobs=False) as without:
        without.enqueue(Message("A"))
        asked = client(without.base_url).chat.completions.create(
            model="m", messages=HELLO, logprobs=True, top_logprobs=5
        )
    assert asked.choices[0].logprobs is None


def test_a_llama_cpp_server_describes_itself_and_refuses_what_does_not_fit(client):
    """/props and the model list give the context and size; a longer prompt (3 words) is
    a 400, and takes no scripted reply."""
    with OpenAIServer(models=("judge",), context=2, parameters=1_500_000_000) as small:
        with urllib.request.urlopen(f"{small.url}/props") as response:
            assert json.load(response)["default_generation_settings"]["n_ctx"] == 2
        (model,) = client(small.base_url).models.list().data
        assert model.model_extra["meta"] == {"n_ctx": 2, "n_params": 1_500_000_000}
        small.enqueue(Message("hi"))
        with pytest.raises(openai.BadRequestError, match="exceeds the available context size"):
            client(small.base_url).chat.completions.create(model="judge", messages=HELLO)
        assert small.pending == 1 and len(small.chat_requests) == 1


def test_a_vllm_server_gives_max_model_len_and_counts_max_tokens(client):
    with OpenAIServer(context=10, flavour="vllm") as small:
        (model,) = client(small.base_url).models.list().data
        assert model.model_extra["max_model_len"] == 10
        small.enqueue(Message("hi"))
        client(small.base_url).chat.completions.create(model="m", messages=HELLO, max_tokens=7)
        with pytest.raises(openai.BadRequestError, match="maximum context length is 10"):
            client(small.base_url).chat.completions.create(model="m", messages=HELLO, max_tokens=8)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{small.url}/props")
