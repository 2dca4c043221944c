"""Serving processes: one worker (`serve`), or a supervisor and N forked workers (`supervise`).

With `--workers N` each worker has its own listening socket on the same port (SO_REUSEPORT), so the
kernel balances connections; uvicorn's own multi-worker mode shares one accept queue, where one worker
often takes most keep-alive connections.

Stopping: SIGINT or SIGTERM, to a worker or to the supervisor (which passes it on), is handled by `Signals`
and `Server`: a grace period for the responses under way, then they end with `response.failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import gc
import ipaddress
import logging
import math
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from functools import partial

import uvicorn

from . import __version__
from .settings import Settings, shown_url
from .store.open import describe

log = logging.getLogger("openai_bridge")


# Two stop signals this close together are one request to stop. Ctrl-C in a terminal reaches every process
# of the foreground group at once, and `uv run` passes its own SIGINT on to the bridge as well (0.2 s later,
# with uv 0.13); a supervisor passes SIGTERM on to workers that got the SIGINT themselves.
TOGETHER = 1.0
# uvicorn's own graceful-shutdown timeout is the grace period plus this much: the bridge ends the responses
# still under way first; only a client that does not even read its last event is cut after this margin.
MARGIN = 5.0
# uvicorn's WebSocket implementation, named rather than "auto": without one, an upgrade would reach the app as
# a plain GET (405) instead of the WebSocket route that answers it (426), so a missing library fails the start instead.
WEBSOCKETS = "websockets-sansio"


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
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a supervisor blocks them across the fork
    from .server.app import create_app, shut_down

    sock = listen(settings.host, settings.port, shared=settings.workers > 1)
    app = create_app(settings)
    if settings.workers == 1:  # else the supervisor says it, once
        announce(settings)
    # No logging config of uvicorn's own: its lines go through the bridge's handler and format (`logs`).
    config = uvicorn.Config(app, log_config=None, log_level=settings.log_level, access_log=False, lifespan="on",
                            loop="uvloop", http="httptools", ws=WEBSOCKETS,
                            timeout_graceful_shutdown=math.ceil(settings.shutdown_grace + MARGIN))
    server = Server(config, signals, grace=settings.shutdown_grace, end_runs=partial(shut_down, app))
    gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
    gc.enable()
    server.run(sockets=[sock])


def announce(settings: Settings) -> None:
    """The start line: what is running, where, in front of what; and a warning when that is open to others."""
    workers = f"{settings.workers} worker{'s' if settings.workers > 1 else ''}"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    model = f", default model {settings.default_model}" if settings.default_model else ""
    if settings.upstreams:
        upstreams = "upstreams " + ", ".join(f"{u.name} {shown_url(u.base_url)} ({u.mode or settings.upstream_mode})"
                                             for u in settings.upstreams)
    else:
        upstreams = f"upstream {shown_url(settings.upstream)} ({settings.upstream_mode})"
    log.info("openai-bridge %s listening on http://%s:%d (%s); %s%s; store %s", __version__, host, settings.port,
             workers, upstreams, model, describe(settings))
    if not _loopback(settings.host) and not settings.api_keys:
        log.warning("listening on %s, beyond this machine, and the bridge asks clients for no key: anyone who "
                    "can reach port %d can use the upstream%s (set BRIDGE_API_KEYS)", settings.host, settings.port,
                    " and its key" if settings.api_key else "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


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


# A worker that dies is replaced: at once if it had run for STABLE seconds, else after a delay that doubles
# with each death in a row, from RESTART_DELAY up to MAX_RESTART_DELAY.
STABLE = 30.0
RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 30.0
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def restart_delay(deaths: int) -> float:
    """The delay before the next worker, after `deaths` quick deaths in a row (1 for the first)."""
    return 0.0 if deaths <= 1 else min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** (deaths - 2))


class _Slot:
    __slots__ = ("proc", "started", "deaths", "due")

    def __init__(self) -> None:
        self.proc: multiprocessing.process.BaseProcess | None = None
        self.started = 0.0
        self.deaths = 0  # quick deaths in a row
        self.due = 0.0  # when the next worker may start


def supervise(settings: Settings) -> None:
    """Fork `settings.workers` workers, and keep that many running until SIGINT or SIGTERM: a worker that
    dies is replaced (after growing delays when it keeps dying). Each worker gets the supervisor's stop
    signals as SIGTERM and stops gracefully; it dies with the supervisor (SIGTERM, and so gracefully, too)."""
    from .server.app import with_reasoning_key  # imported once, shared by the forked workers

    settings = with_reasoning_key(settings)  # one key for every worker, made before any of them starts
    signals = Signals()
    signals.install()
    ctx = multiprocessing.get_context("fork")
    me = os.getpid()
    slots = [_Slot() for _ in range(settings.workers)]

    def spawn(number: int, slot: _Slot) -> None:
        proc = ctx.Process(target=_worker, args=(settings, me), name=f"openai-bridge-worker-{number}", daemon=False)
        # Blocked until the worker has its own handlers: the supervisor's, inherited, would swallow them.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        slot.proc, slot.started = proc, time.monotonic()

    # The port must be free: with SO_REUSEPORT alone, a second bridge on the same port would share it.
    listen(settings.host, settings.port).close()
    for number, slot in enumerate(slots):
        spawn(number, slot)
    announce(settings)
    while signals.first is None:
        time.sleep(0.1)
        now = time.monotonic()
        for number, slot in enumerate(slots):
            if slot.proc is not None and not slot.proc.is_alive():
                ran = now - slot.started
                slot.deaths = 1 if ran >= STABLE else slot.deaths + 1
                delay = restart_delay(slot.deaths)
                log.warning("worker %d (pid %s) exited with %s after %.1f s; starting a new one in %.1f s",
                            number, slot.proc.pid, slot.proc.exitcode, ran, delay)
                slot.proc, slot.due = None, now + delay
            if slot.proc is None and now >= slot.due and signals.first is None:
                spawn(number, slot)
    _stop([slot.proc for slot in slots if slot.proc is not None], signals,
          limit=settings.shutdown_grace + MARGIN + 10)


def _stop(workers: list[multiprocessing.process.BaseProcess], signals: Signals, *, limit: float) -> None:
    """SIGTERM to every worker, and wait for them: each stops gracefully. A later signal is passed on too
    (the workers then end their responses at once). A worker still there after `limit` seconds is killed."""
    for proc in workers:
        proc.terminate()
    forwarded = time.monotonic()
    hurried = False
    deadline = forwarded + limit
    while any(proc.is_alive() for proc in workers):
        # Passed on no sooner than TOGETHER after the first, or a worker would take both for one request.
        if signals.hurry and not hurried and time.monotonic() - forwarded > TOGETHER:
            hurried = True
            for proc in workers:
                if proc.is_alive():
                    proc.terminate()
        if time.monotonic() > deadline:
            for proc in workers:
                if proc.is_alive():
                    log.error("worker %s did not stop within %.0f s; killing it", proc.pid, limit)
                    proc.kill()
            break
        time.sleep(0.05)
    for proc in workers:
        proc.join()


def _worker(settings: Settings, supervisor: int) -> None:
    """A forked worker: it must not outlive the supervisor (an orphan would keep serving on the port)."""
    _die_with_parent()
    if os.getppid() != supervisor:  # it died before that was set up
        return
    serve(settings)


def _die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux's PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    except (OSError, AttributeError) as exc:
        log.warning("this worker will not stop when the supervisor dies: prctl(PR_SET_PDEATHSIG) failed: %s", exc)


_PR_SET_PDEATHSIG = 1
