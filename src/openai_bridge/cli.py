"""`openai-bridge`: run the bridge."""

from __future__ import annotations

import argparse
import logging
import os
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


def app_from_env():  # type: ignore[no-untyped-def]
    """Factory for uvicorn's worker processes: they rebuild the config from the environment."""
    from .server.app import create_app

    return create_app(from_env())


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    # Workers are separate processes: hand them the effective settings through the environment.
    os.environ.update({
        "REMOTE_OPENAI_BASE_URL": cfg.upstream,
        "BRIDGE_HOST": cfg.host,
        "BRIDGE_PORT": str(cfg.port),
        "BRIDGE_LOG_LEVEL": cfg.log_level,
    })
    if cfg.default_model:
        os.environ["DEFAULT_MODEL"] = cfg.default_model
    uvicorn.run(
        "openai_bridge.cli:app_from_env",
        factory=True,
        host=cfg.host,
        port=cfg.port,
        workers=cfg.workers if cfg.workers > 1 else None,
        log_level=cfg.log_level.lower(),
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
