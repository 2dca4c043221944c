"""Serving processes: one worker (`serve`), or a supervisor and N forked workers (`supervise`).

With `--workers N` each worker has its own listening socket on the same port (SO_REUSEPORT), so the
kernel balances connections; uvicorn's own multi-worker mode shares one accept queue, where one worker
often takes most keep-alive connections.
"""

from __future__ import annotations

import errno
import gc
import logging
import multiprocessing
import signal
import socket
import sys
import time

import uvicorn

from .settings import Settings


def serve(settings: Settings) -> None:
    """One worker: its own listening socket (SO_REUSEPORT, so that N workers share the port and the kernel
    spreads connections evenly over them), uvloop and httptools under uvicorn."""
    from .server.app import create_app

    sock = listen(settings.host, settings.port, shared=settings.workers > 1)
    config = uvicorn.Config(create_app(settings), log_level=settings.log_level, access_log=False, lifespan="on",
                            loop="uvloop", http="httptools", timeout_graceful_shutdown=10)
    gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
    gc.enable()
    uvicorn.Server(config).run(sockets=[sock])


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
