"""`running_bridge`: the real bridge on a real port, in a thread of the calling process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

from ..server.app import create_app
from ..settings import Settings
from ..supervisor import WEBSOCKETS
from ..upstream.base import Upstream


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_bridge(settings: Settings, *, upstream: Upstream | None = None,
                   wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> Iterator[str]:
    """Serve `create_app(settings, upstream=upstream)` on a free 127.0.0.1 port until the block ends;
    yields the base URL (`http://127.0.0.1:PORT`; clients add `/v1` or not).

    Without `settings.reasoning_key`, a fixed test key is used, and without `settings.store` the memory store,
    so that nothing is written to the state directory. `wrap`, if given, wraps the app (an ASGI middleware of
    the test's, e.g. a recorder)."""
    port = free_port()
    update: dict[str, object] = {"host": "127.0.0.1", "port": port}
    if settings.reasoning_key is None:
        update["reasoning_key"] = "test-reasoning-key"
    if settings.store is None:
        update["store"] = "memory"
    settings = settings.model_copy(update=update)
    app: ASGIApp = create_app(settings, upstream=upstream)
    if wrap is not None:
        app = wrap(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", loop="asyncio", ws=WEBSOCKETS))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), name="openai-bridge", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the bridge did not become healthy within 10 s")
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
