"""llama.cpp's own OpenAI-compatible server, run inside this process by ``xllamacpp``.

:class:`LocalServer` loads a GGUF file, listens on a free port of 127.0.0.1 only (never on
another interface), waits until ``/health`` answers ``ok`` and gives the base URL that the
``openai`` client talks to (``/v1/chat/completions``, ``/v1/models``). Stopping it (or
leaving its ``with`` block) shuts the server down and frees the model.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rerank.errors import ConfigError

__all__ = ["INSTALL_HINT", "LocalServer", "import_xllamacpp"]

#: The shortest run of cached tokens llama.cpp reuses away from the prompt's start.
CACHE_REUSE_TOKENS = 32
# rerank is installed from its checkout (there is no PyPI release), so the hint names that.
INSTALL_HINT = "pip install -e '.[local]' (in the rerank checkout)"


def import_xllamacpp() -> Any:
    """The ``xllamacpp`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise ConfigError(
            f"the local judge needs the llama.cpp server package xllamacpp ({exc}); "
            f"install it with: {INSTALL_HINT}"
        ) from None
    return xllamacpp


class LocalServer:
    """An in-process llama.cpp server for ``model`` (a GGUF path) on 127.0.0.1.

    ``model`` may also be a function that gives the path when the server starts (the local
    judge assembles its model then, not when it is built).

    ``alias`` is the model id the server reports and accepts; ``context`` the context
    length shared by ``parallel`` slots; ``threads`` defaults to the CPUs this process may
    use. ``start`` raises :class:`ConfigError` when the model cannot be loaded or the
    server does not become healthy within ``timeout`` seconds.
    """

    def __init__(
        self,
        model: str | Path | Callable[[], Path],
        *,
        alias: str = "local",
        context: int = 4096,
        parallel: int = 1,
        threads: int | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.model = model if callable(model) else Path(model)
        self.alias = alias
        self.context = context
        self.parallel = parallel
        self.threads = threads or len(os.sched_getaffinity(0))
        self.timeout = timeout
        self._server: Any = None
        self.address: str | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (``http://127.0.0.1:<port>/v1``) of the running server."""
        if self.address is None:
            raise RuntimeError("the local server is not running")
        return f"{self.address}/v1"

    def start(self) -> LocalServer:
        if self._server is not None:
            return self
        xllamacpp = import_xllamacpp()
        model = Path(self.model() if callable(self.model) else self.model)
        if not model.is_file():
            raise ConfigError(f"{model}: model file not found")
        params = xllamacpp.CommonParams()
        params.model.path = str(model)
        params.model_alias = {self.alias}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # a free port, read back from listening_address
        params.n_ctx = self.context * self.parallel
        params.n_parallel = self.parallel
        # Reuse cached chunks of a slot's last prompt that reappear later in a new one
        # (shifted in place): the other display order of a question shows the same
        # responses in swapped places.
        params.n_cache_reuse = CACHE_REUSE_TOKENS
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.warmup = False
        params.verbosity = -1  # llama.cpp writes its log to stderr otherwise
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # the binding raises plain RuntimeErrors
            raise ConfigError(f"{model}: the llama.cpp server did not start: {exc}") from exc
        self.address = str(self._server.listening_address).rstrip("/")
        if not self.address.startswith("http://127.0.0.1:"):
            self.stop()
            raise ConfigError(f"the local server listens on {self.address}, not on loopback")
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.address}/health", timeout=5) as reply:
                    if json.loads(reply.read()).get("status") == "ok":
                        return
            except urllib.error.HTTPError as exc:  # 503 while the model loads
                last = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"the local server did not become healthy in {self.timeout:g}s: {last}")

    def stop(self) -> None:
        """Shut the server down (its destructor stops the loop and frees the model)."""
        server, self._server = self._server, None
        self.address = None
        del server

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
