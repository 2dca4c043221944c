"""Serving processes: one worker (`serve`), or a supervisor and N forked workers (`supervise`).

With `--workers N` each worker has its own listening socket on the same port (SO_REUSEPORT), so the
kernel balances connections; uvicorn's own multi-worker mode shares one accept queue, where one worker
often takes most keep-alive connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import math
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial

import uvicorn

from .settings import Settings

log = logging.getLogger("openai_bridge")


# Two stop signals this close together are one request to stop. Ctrl-C in a terminal reaches every process
# of the foreground group at once, and `uv run` passes its own SIGINT on to the bridge as well; a supervisor
# passes SIGTERM on to workers that got the SIGINT themselves.
TOGETHER = 1.0
# uvicorn's own graceful-shutdown timeout is the grace period plus this much: the bridge ends the responses
# still under way first; only a client that does not even read its last event is cut after this margin.
MARGIN = 5.0


class Signals:
    """SIGINT and SIGTERM, as requests to stop a serving process. The first starts the graceful shutdown,
    and a second within `TOGETHER` seconds is the same request. A later one means "now": the responses
    still under way end at once, properly (`response.failed`), instead of at the end of the grace period;
    cutting their connections instead would gain a few milliseconds and cost every client its answer's end.
    (A process that must die at once is sent SIGKILL.)"""

    def __init__(self) -> None:
        self.first: float | None = None  # when the first one came (time.monotonic)
        self.hurry = False

    def install(self) -> None:
        """Handle both for the rest of the process's life: even a signal that comes as the process ends
        is no KeyboardInterrupt traceback, and no death by SIGTERM instead of exit status 0."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self.received)

    def received(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first = now
        elif now - self.first > TOGETHER:
            self.hurry = True


def serve(settings: Settings) -> None:
    """One worker: its own listening socket (SO_REUSEPORT, so that N workers share the port and the kernel
    spreads connections evenly over them), uvloop and httptools under uvicorn. SIGINT or SIGTERM stops it
    gracefully (`Signals`, `Server`), and it returns."""
    signals = Signals()
    signals.install()
    from .server.app import create_app, shut_down

    sock = listen(settings.host, settings.port, shared=settings.workers > 1)
    app = create_app(settings)
    config = uvicorn.Config(app, log_level=settings.log_level, access_log=False, lifespan="on", loop="uvloop",
                            http="httptools", timeout_graceful_shutdown=math.ceil(settings.shutdown_grace + MARGIN))
    server = Server(config, signals, grace=settings.shutdown_grace, end_runs=partial(shut_down, app))
    gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
    gc.enable()
    server.run(sockets=[sock])


class Server(uvicorn.Server):
    """uvicorn's server, stopped the bridge's way: on a signal (see `Signals`) it stops accepting and closes
    idle connections at once (uvicorn does), lets the responses under way run for the grace period, then
    `end_runs` ends those still running, properly, and uvicorn closes each connection once its answer is
    complete."""

    def __init__(self, config: uvicorn.Config, signals: Signals, *, grace: float, end_runs: Callable[[], int]):
        super().__init__(config)
        self.signals = signals
        self.grace = grace
        self.end_runs = end_runs

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # `Signals` handles them. uvicorn's own handler makes a second Ctrl-C a forced quit, which cuts every
        # connection, and re-raises the signal once it is done.
        yield

    async def on_tick(self, counter: int) -> bool:
        return self.signals.first is not None or await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        log.info("stopping; responses under way get %g s to finish", self.grace)
        ender = asyncio.ensure_future(self._end_runs_when_due())
        try:
            await super().shutdown(sockets)
        finally:
            ender.cancel()

    async def _end_runs_when_due(self) -> None:
        asked = self.signals.first
        due = (asked if asked is not None else time.monotonic()) + self.grace
        while time.monotonic() < due and not self.signals.hurry:
            await asyncio.sleep(min(0.1, max(0.0, due - time.monotonic())))
        ended = self.end_runs()
        if ended:
            log.warning("%s; %d response(s) under way ended with server_shutting_down",
                        "asked again to stop" if self.signals.hurry else "grace period over", ended)


class CannotListen(Exception):
    """The address is taken or not ours; the message is one line naming it."""


def listen(host: str, port: int, *, shared: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise CannotListen(f"cannot listen on {where}: port {port} is already in use") from None
        raise CannotListen(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def supervise(settings: Settings) -> None:
    """Fork `settings.workers` workers. A worker that dies after running a while is replaced; the whole
    bridge stops on SIGINT/SIGTERM, or when workers die right at start."""
    from .server.app import with_reasoning_key  # imported once, shared by the forked workers

    settings = with_reasoning_key(settings)  # one key for every worker, made before any of them starts

    log = logging.getLogger("openai_bridge")
    ctx = multiprocessing.get_context("fork")
    workers: dict[int, tuple[multiprocessing.process.BaseProcess, float]] = {}
    stopping = False

    def spawn(slot: int) -> None:
        proc = ctx.Process(target=serve, args=(settings,), name=f"openai-bridge-worker-{slot}", daemon=False)
        proc.start()
        workers[slot] = (proc, time.monotonic())

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The port must be free: with SO_REUSEPORT alone, a second bridge on the same port would share it.
    listen(settings.host, settings.port).close()
    for slot in range(settings.workers):
        spawn(slot)
    log.info("openai-bridge: %d workers on http://%s:%d", settings.workers, settings.host, settings.port)
    code = 0
    while not stopping:
        time.sleep(0.2)
        for slot, (proc, started) in list(workers.items()):
            if proc.is_alive() or stopping:
                continue
            if time.monotonic() - started < 5:
                log.error("worker %d exited with %s right after start; stopping", slot, proc.exitcode)
                stopping, code = True, 1
                break
            log.warning("worker %d exited with %s; starting a new one", slot, proc.exitcode)
            spawn(slot)
    for proc, _ in workers.values():
        if proc.is_alive():
            proc.terminate()
    for proc, _ in workers.values():
        proc.join(15)
        if proc.is_alive():
            proc.kill()
    sys.exit(code)
