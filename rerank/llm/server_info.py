"""What an OpenAI-compatible server says about itself: its context size and model size.

The judge keeps every request inside the server's context, and sends the compact form of a
skill to small models, so it needs both numbers. Servers report them in different places:

- llama.cpp's ``GET /props`` gives ``default_generation_settings.n_ctx`` (tokens per slot)
  and ``total_slots``; its ``GET /v1/models`` gives ``meta.n_ctx`` and ``meta.n_params``
  for each model;
- vLLM's ``GET /v1/models`` gives ``max_model_len``; it has no ``/props``;
- hosted APIs give neither, and the judge then goes by the model id and its options.

The readers here are pure (a parsed JSON body in, numbers out);
:meth:`rerank.llm.EndpointPool.server_info` does the requests.

Examples
--------
>>> info = from_props({"default_generation_settings": {"n_ctx": 8192}, "total_slots": 2})
>>> info.context, info.slots, info.server
(8192, 2, 'llama.cpp')
>>> from_models({"data": [{"id": "m", "max_model_len": 32768}]}, "m").context
32768
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ServerInfo", "from_models", "from_props"]


@dataclass(frozen=True)
class ServerInfo:
    """What a server reported; ``None`` where it said nothing.

    Attributes
    ----------
    context : tokens one request may hold, prompt and reply together (a llama.cpp slot's
        ``n_ctx``, vLLM's ``max_model_len``).
    parameters : the model's parameter count (llama.cpp's ``n_params``).
    slots : requests the server decodes together (llama.cpp's ``total_slots``).
    server : ``"llama.cpp"`` or ``"vllm"`` when the answers tell, else ``None``.
    """

    context: int | None = None
    parameters: int | None = None
    slots: int | None = None
    server: str | None = None

    def merged(self, other: ServerInfo) -> ServerInfo:
        """This information, its gaps filled from ``other``; a context is the smaller of
        the two (a request must fit every endpoint it may go to)."""
        contexts = [c for c in (self.context, other.context) if c is not None]
        return ServerInfo(
            context=min(contexts) if contexts else None,
            parameters=self.parameters if self.parameters is not None else other.parameters,
            slots=self.slots if self.slots is not None else other.slots,
            server=self.server or other.server,
        )


def _positive(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return int(value)


def from_props(props: Any) -> ServerInfo:
    """What llama.cpp's ``/props`` says (an empty :class:`ServerInfo` for anything else)."""
    if not isinstance(props, dict):
        return ServerInfo()
    settings = props.get("default_generation_settings")
    context = _positive(settings.get("n_ctx")) if isinstance(settings, dict) else None
    if context is None:
        context = _positive(props.get("n_ctx"))
    slots = _positive(props.get("total_slots"))
    if context is None and slots is None:
        return ServerInfo()
    return ServerInfo(context=context, slots=slots, server="llama.cpp")


def from_models(models: Any, model: str | None) -> ServerInfo:
    """What a ``/v1/models`` listing says of ``model`` (else of the first model listed)."""
    data = models.get("data") if isinstance(models, dict) else None
    if not isinstance(data, list):
        return ServerInfo()
    entries = [m for m in data if isinstance(m, dict)]
    entry = next((m for m in entries if m.get("id") == model), entries[0] if entries else None)
    if entry is None:
        return ServerInfo()
    if entry.get("max_model_len") is not None:
        return ServerInfo(context=_positive(entry.get("max_model_len")), server="vllm")
    meta = entry.get("meta")
    if isinstance(meta, dict):
        return ServerInfo(
            context=_positive(meta.get("n_ctx")),
            parameters=_positive(meta.get("n_params")),
            server="llama.cpp",
        )
    return ServerInfo()
