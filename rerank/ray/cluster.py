"""Reaching a Ray cluster: the optional import, joining or starting a cluster, its size.

Ray is an optional extra (``pip install -e '.[ray]'``); nothing here imports it until a
function is called, so ``import rerank.ray`` works without it and a call says how to
install it.
"""

from __future__ import annotations

import logging
import os
import socket
from types import ModuleType
from typing import Any

from rerank.errors import ConfigError

__all__ = ["cluster_cpus", "connect", "describe_node", "disconnect", "require_ray"]

#: How the installation hint names the extra.
INSTALL = "pip install -e '.[ray]' (or pip install 'ray[data]')"


def require_ray() -> ModuleType:
    """The ``ray`` module, or a :class:`~rerank.errors.ConfigError` saying how to get it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"Ray is not installed ({exc}): {INSTALL}") from None
    return ray


def connect(address: str | None, *, runtime_env: dict[str, Any] | None = None) -> bool:
    """Join the cluster at ``address`` (``"auto"``: the one running on this machine, or
    ``$RAY_ADDRESS``), or with ``None`` start a local one on this machine (a new one,
    whatever ``ray start`` left running). A process already connected stays on its
    cluster. ``runtime_env`` is Ray's, for every worker of this job. Returns whether this
    call connected (and so :func:`disconnect` should undo it)."""
    ray = require_ray()
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address if address is not None else "local",
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,  # worker errors come back with the item they failed
            runtime_env=runtime_env,
        )
    except ConnectionError as exc:
        where = "on this machine" if address == "auto" else f"at {address}"
        raise ConfigError(
            f"no Ray cluster to join {where} ({exc}): start one with `ray start --head`, "
            "or leave the address out to start a local cluster"
        ) from None
    return True


def disconnect(connected: bool) -> None:
    """Undo :func:`connect` when it connected (a local cluster it started stops)."""
    if connected:
        require_ray().shutdown()


def cluster_cpus() -> float:
    """The CPUs the cluster has in all (alive nodes)."""
    return float(require_ray().cluster_resources().get("CPU", 0.0))


def describe_node() -> str:
    """This process as messages name it: node address, host name, pid."""
    ray = require_ray()
    try:
        ip = ray.util.get_node_ip_address()
    except Exception:  # not inside a Ray worker: the host name says enough
        ip = "?"
    return f"node {ip} ({socket.gethostname()}, pid {os.getpid()})"
