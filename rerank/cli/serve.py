"""``rerank serve-scripted``: the bundled scripted OpenAI-compatible server, answering judge
requests by a policy (:mod:`rerank.testing.policies`), so that ``--judge llm`` can be tried
without a model.

It prints the base URL on stdout (one line, flushed: a script can read it) and serves on
127.0.0.1 until Ctrl-C or SIGTERM, then says how many chat requests it answered.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import click

from rerank.cli.errors import one_line_errors
from rerank.errors import ConfigError
from rerank.readers import read_items
from rerank.testing import OpenAIServer
from rerank.testing.policies import POLICIES, parse_policy

__all__ = ["serve_scripted"]


def _server(reply: Any, model: str, port: int) -> OpenAIServer:
    if not port:
        return OpenAIServer(models=(model,), default=reply)
    try:
        return OpenAIServer(models=(model,), default=reply, port=port)  # type: ignore[call-arg]
    except TypeError:
        raise click.UsageError(
            "this version's scripted server takes no fixed port: use --port 0 (a free port, "
            "printed when it starts)"
        ) from None


@click.command("serve-scripted")
@click.option(
    "--policy",
    default="random",
    show_default=True,
    metavar="POLICY",
    help=f"How to judge: oracle[:ACCURACY] (needs --labels), {', '.join(POLICIES[1:])}.",
)
@click.option(
    "--labels",
    multiple=True,
    metavar="FILE",
    help="Labelled candidate file(s) the oracle reads (repeatable).",
)
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1 (0: a free one).")  # fmt: skip
@click.option(
    "--model", default="scripted-judge", show_default=True, help="The model name it serves."
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the policy.")
def serve_scripted(policy: str, labels: tuple[str, ...], port: int, model: str, seed: int) -> None:
    """Serve a scripted LLM judge on 127.0.0.1: an OpenAI-compatible endpoint whose answers
    follow --policy, for trying `rerank select --judge llm --base-url URL` without a model.
    Prints the base URL."""
    with one_line_errors(debug=False, interrupted="the scripted server stopped"):
        items = [item for path in labels for item in read_items(path)] if labels else None
        try:
            chosen = parse_policy(policy, labels=items, seed=seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    server = _server(chosen.reply, model, port).start()
    # A service manager (or a shell's kill) stops it with SIGTERM: as cleanly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        click.echo(server.base_url)
        sys.stdout.flush()
        click.echo(
            f"serving policy {policy} as model {model!r} at {server.base_url}; try\n"
            f"  rerank select FILE --judge llm --base-url {server.base_url} --no-cache\n"
            "Ctrl-C stops it.",
            err=True,
        )
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        answered = len(server.chat_requests)
        server.close()
        click.echo(f"answered {answered} chat requests", err=True)
