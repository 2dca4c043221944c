"""`openai-bridge`: run the bridge."""

from __future__ import annotations

import argparse
import gc
import logging
import multiprocessing
import signal
import socket
import sys
import time
from dataclasses import replace

import uvicorn

from .config import Config, from_env, normalize_base_url


def parse_args(argv: list[str] | None = None) -> Config:
    cfg = from_env()
    p = argparse.ArgumentParser(
        prog="openai-bridge",
        description="Serve the OpenAI Responses API in front of a Chat Completions server.",
    )
    p.add_argument("--host", default=cfg.host, help=f"address to listen on (BRIDGE_HOST, default {cfg.host})")
    p.add_argument("--port", type=int, default=cfg.port, help=f"port (BRIDGE_PORT, default {cfg.port})")
    p.add_argument("--upstream", default=cfg.upstream,
                   help="chat server base URL, with or without /v1 (REMOTE_OPENAI_BASE_URL)")
    p.add_argument("--default-model", default=cfg.default_model, help="model for requests naming none (DEFAULT_MODEL)")
    p.add_argument("--workers", type=int, default=cfg.workers, help="worker processes (BRIDGE_WORKERS, default 1)")
    p.add_argument("--log-level", default=cfg.log_level, help="debug, info, warning (BRIDGE_LOG_LEVEL)")
    a = p.parse_args(argv)
    return replace(cfg, host=a.host, port=a.port, upstream=normalize_base_url(a.upstream),
                   default_model=a.default_model, workers=a.workers, log_level=a.log_level)


def main(argv: list[str] | None = None) -> None:
    # Start-up is mostly imports (FastAPI, aiohttp), which create many long-lived objects: collecting
    # garbage meanwhile only slows it down. Collection resumes once the app is built (see `serve`).
    gc.disable()
    cfg = parse_args(argv)
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if cfg.workers <= 1:
        serve(cfg)
    else:
        supervise(cfg)


def serve(cfg: Config) -> None:
    """One worker: its own listening socket (SO_REUSEPORT, so that N workers share the port and the kernel
    spreads connections evenly over them), uvloop and httptools under uvicorn."""
    from .server.app import create_app

    sock = listen(cfg.host, cfg.port, shared=cfg.workers > 1)
    config = uvicorn.Config(create_app(cfg), log_level=cfg.log_level.lower(), access_log=False, lifespan="on",
                            loop="uvloop", http="httptools", timeout_graceful_shutdown=10)
    gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
    gc.enable()
    uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int, *, shared: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(cfg: Config) -> None:
    """`--workers N`: N forked processes, each serving the same port. uvicorn's own multi-worker mode
    shares one accept queue, where one worker often takes most keep-alive connections; with a socket per
    worker the kernel balances them. A worker that dies after running a while is replaced; the whole
    bridge stops on SIGINT/SIGTERM, or when workers die right at start (a port in use, say)."""
    from .server import app as _preload  # noqa: F401  imported once, shared by the forked workers

    log = logging.getLogger("openai_bridge")
    ctx = multiprocessing.get_context("fork")
    workers: dict[int, tuple[multiprocessing.process.BaseProcess, float]] = {}
    stopping = False

    def spawn(slot: int) -> None:
        proc = ctx.Process(target=serve, args=(cfg,), name=f"openai-bridge-worker-{slot}", daemon=False)
        proc.start()
        workers[slot] = (proc, time.monotonic())

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The port must be free: with SO_REUSEPORT alone, a second bridge on the same port would share it.
    listen(cfg.host, cfg.port).close()
    for slot in range(cfg.workers):
        spawn(slot)
    log.info("openai-bridge: %d workers on http://%s:%d", cfg.workers, cfg.host, cfg.port)
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


if __name__ == "__main__":
    main()
