"""Run the real bridge on a real port, in a thread of the test process."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import uvicorn
from starlette.types import ASGIApp

from openai_bridge.config import Config
from openai_bridge.server.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_bridge(config: Config, *, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> Iterator[str]:
    """Serve `create_app(config)` on a free port; yields the base URL, e.g. `http://127.0.0.1:PORT`.

    `wrap`, if given, wraps the app (a test-only ASGI middleware, e.g. one that records requests)."""
    port = free_port()
    config = replace(config, host="127.0.0.1", port=port)
    if config.reasoning_key is None:  # keep tests from writing a key file into the home folder
        config = replace(config, reasoning_key="test-reasoning-key")
    app: ASGIApp = create_app(config)
    if wrap is not None:
        app = wrap(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on", loop="asyncio"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
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
