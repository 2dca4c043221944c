"""`openai-bridge`: read the settings, then serve, with one process or a supervisor and N workers.
`openai-bridge probe ...`: check what an upstream supports (see `probe`)."""

from __future__ import annotations

import gc
import sys

from .logs import configure as configure_logging
from .settings import SettingsError, load
from .supervisor import CannotListen, serve, supervise


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["probe"]:  # a subcommand; every other command line is the server's flags
        from .probe import main as probe

        sys.exit(probe(args[1:]))
    # Start-up is mostly imports (FastAPI, aiohttp), which create many long-lived objects: collecting
    # garbage meanwhile only slows it down. Collection resumes once the app is built (see `serve`).
    gc.disable()
    try:
        settings = load(argv)
    except SettingsError as exc:
        for line in str(exc).splitlines():
            print(f"openai-bridge: {line}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level)
    try:
        if settings.workers <= 1:
            serve(settings)
        else:
            supervise(settings)
    except CannotListen as exc:
        print(f"openai-bridge: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
