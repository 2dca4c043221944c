"""One scripted upstream and one bridge for the whole e2e package, both on real ports.

The bridge runs with short timeouts and keepalive so that the fault cases stay fast.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from openai_bridge.settings import Settings, Timeouts
from openai_bridge.testing import ScriptedUpstream, running_bridge
from tests.store.backends import POSTGRES_DSN, missing
from tests.support.conformance import Recorder

KEEPALIVE = 0.2
TIMEOUTS = Timeouts(connect=2.0, first_byte=1.0, idle=0.6)


@pytest.fixture(scope="session")
def scripted_server() -> Iterator[ScriptedUpstream]:
    with ScriptedUpstream() as up:
        yield up


@pytest.fixture
def upstream(scripted_server: ScriptedUpstream) -> ScriptedUpstream:
    scripted_server.reset()
    return scripted_server


@pytest.fixture(scope="session")
def bridge_url(scripted_server: ScriptedUpstream, conformance: Recorder) -> Iterator[str]:
    config = Settings(upstream=scripted_server.base_url, default_model="m", keepalive=KEEPALIVE, timeouts=TIMEOUTS)
    with running_bridge(config, wrap=conformance.wrap) as url:
        yield url


@pytest.fixture
def client(bridge_url: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=bridge_url + "/v1", api_key="x", max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture
def http(bridge_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge_url, timeout=10) as c:
        yield c


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The test database, in a schema of this test's own (chosen by the URL: asyncpg passes `search_path` on to
    the server), dropped afterwards with everything the bridges made in it."""
    reason = missing("postgres")
    if reason:
        pytest.skip(reason)
    import asyncpg

    schema = f"bridge_e2e_{os.getpid()}_{secrets.token_hex(4)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_DSN}?search_path={schema}"
    finally:
        asyncio.run(run(f'DROP SCHEMA "{schema}" CASCADE'))
