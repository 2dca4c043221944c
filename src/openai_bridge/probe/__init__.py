"""`openai-bridge probe`: what an upstream supports, checked with one small request per feature, and the
settings that follow. What a user runs first when something does not work.

`checks.py`: the checks (through `HTTPUpstream`, so authentication, timeouts and error messages are the
bridge's own); `native.py`: the verdict on a native Responses stream, by the bridge's repair machine;
`report.py`: the table, the JSON and the suggested settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from collections.abc import Sequence

import orjson

from ..routing import configured_upstreams
from ..settings import SettingsError, Timeouts, from_env, normalize_base_url, shown_url
from ..upstream.http import HTTPUpstream
from .checks import Probe, Report
from .report import as_json, render

__all__ = ["main", "probe"]

type Target = tuple[str, str | None, Timeouts]  # base URL, API key, timeouts


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="openai-bridge probe",
        description="Check what an upstream supports (models, chat, streaming, usage, tools, json_schema, "
                    "reasoning fields, the max-tokens field, a native /responses) with one small request each, "
                    "and suggest the settings that fit it. Exit status 0 when it answered chat, 1 when not.")
    p.add_argument("--upstream", metavar="URL", help="the server's base URL (default: the configured upstreams: "
                   "BRIDGE_CONFIG's, else REMOTE_OPENAI_BASE_URL)")
    p.add_argument("--model", metavar="NAME",
                   help="the model to try (default: DEFAULT_MODEL, else the first of the upstream's /models)")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="the environment variable holding the upstream's API key (default: the configured key, "
                        "REMOTE_OPENAI_API_KEY)")
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    return p


async def probe(base_url: str, *, api_key: str | None = None, model: str | None = None,
                timeouts: Timeouts | None = None) -> Report:
    """Probe one upstream."""
    upstream = HTTPUpstream(base_url, api_key=api_key, timeouts=timeouts)
    try:
        return await Probe(upstream, shown_url(upstream.base_url), model).run()
    finally:
        await upstream.aclose()


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = from_env()
        targets: list[Target]
        if args.upstream:
            try:
                url = normalize_base_url(args.upstream)
            except ValueError as exc:
                raise SettingsError(f"--upstream {args.upstream!r} is not valid: {exc}") from None
            targets = [(url, settings.api_key, settings.timeouts)]
        else:
            targets = [(u.base_url, u.api_key, u.timeouts or settings.timeouts) for u in configured_upstreams(settings)]
        if args.api_key_env:
            key = os.environ.get(args.api_key_env)
            if not key:
                raise SettingsError(f"--api-key-env {args.api_key_env}: the variable is not set")
            targets = [(url, key, timeouts) for url, _, timeouts in targets]
    except SettingsError as exc:
        for line in str(exc).splitlines():
            print(f"openai-bridge probe: {line}", file=sys.stderr)
        return 2
    model = args.model or settings.default_model
    reports = asyncio.run(_probe_all(targets, model))
    if args.json:
        print(orjson.dumps([as_json(r) for r in reports], option=orjson.OPT_INDENT_2).decode())
    else:
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
        print("\n\n".join(render(r, width) for r in reports))
    for report in reports:
        if not report.chat_ok:
            where = f"{report.upstream}: " if len(reports) > 1 else ""
            print(f"openai-bridge probe: {where}{report.error}", file=sys.stderr)
    return 0 if all(r.chat_ok for r in reports) else 1


async def _probe_all(targets: Sequence[Target], model: str | None) -> list[Report]:
    return [await probe(url, api_key=key, model=model, timeouts=timeouts) for url, key, timeouts in targets]
