"""The store settings: BRIDGE_STORE, BRIDGE_REDIS_URL, BRIDGE_STORE_TTL, checked at start (a password never
shown), and the store they open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from openai_bridge.settings import SettingsError, from_env
from openai_bridge.store.base import StoredResponse
from openai_bridge.store.composite import WithLive
from openai_bridge.store.memory import MemoryStore
from openai_bridge.store.open import describe, keep_expiring, open_store
from openai_bridge.store.sqlite import SQLiteStore
from tests.store.backends import REDIS_URL, missing


def test_the_default_is_sqlite_under_the_state_dir(tmp_path: Path):
    settings = from_env({"BRIDGE_STATE_DIR": str(tmp_path / "state")})
    assert settings.store is None and settings.redis_url is None and settings.store_ttl == 30 * 86400

    async def go() -> None:
        store = await open_store(settings)
        try:
            assert isinstance(store, SQLiteStore) and store.path == tmp_path / "state" / "store.sqlite3"
            await store.put_response("t", StoredResponse("resp_1", {"id": "resp_1", "output": []}))
        finally:
            await store.close()

    asyncio.run(go())
    assert (tmp_path / "state" / "store.sqlite3").exists()
    assert describe(settings) == f"sqlite://{tmp_path}/state/store.sqlite3"  # sqlite:///tmp/...


def test_store_urls(tmp_path: Path):
    assert from_env({"BRIDGE_STORE": "memory"}).store == "memory"
    assert from_env({"BRIDGE_STORE": f"sqlite:///{tmp_path}/x.db?synchronous=full"}).store.endswith("full")
    assert from_env({"BRIDGE_STORE": "postgresql://u:pw@db:5432/bridge"}).store == "postgresql://u:pw@db:5432/bridge"
    assert from_env({"BRIDGE_REDIS_URL": "redis://:pw@cache:6379/0"}).redis_url == "redis://:pw@cache:6379/0"
    assert from_env({"BRIDGE_STORE_TTL": "3600"}).store_ttl == 3600

    async def go() -> None:
        store = await open_store(from_env({"BRIDGE_STORE": "memory"}))
        assert isinstance(store, MemoryStore)
        store = await open_store(from_env({"BRIDGE_STORE": f"sqlite:///{tmp_path}/x.db?synchronous=full"}))
        assert isinstance(store, SQLiteStore) and store.synchronous == "full"
        await store.close()

    asyncio.run(go())


@pytest.mark.parametrize(("env", "shown"), [
    ({"BRIDGE_STORE": "mysql://u:secret@db/x"}, "BRIDGE_STORE='mysql://u:***@db/x' is not valid"),
    ({"BRIDGE_STORE": "mysql://db/x?user=u&password=secret"}, "BRIDGE_STORE='mysql://db/x?user=u&password=***' is"),
    ({"BRIDGE_STORE": "sqlite://relative.db"}, "BRIDGE_STORE='sqlite://relative.db' is not valid"),
    ({"BRIDGE_REDIS_URL": "http://:secret@cache"}, "BRIDGE_REDIS_URL='http://:***@cache' is not valid"),
    ({"BRIDGE_STORE_TTL": "0"}, "BRIDGE_STORE_TTL='0' is not valid: expected a number of seconds greater than 0"),
])
def test_a_bad_value_is_one_line_without_the_password(env: dict[str, str], shown: str):
    with pytest.raises(SettingsError) as err:
        from_env(env)
    assert shown in str(err.value) and "secret" not in str(err.value)


def test_describe_hides_passwords():
    settings = from_env({"BRIDGE_STORE": "postgresql://bridge:secret@db:5432/bridge",
                         "BRIDGE_REDIS_URL": "redis://:secret2@cache:6379/0"})
    assert describe(settings) == "postgresql://bridge:***@db:5432/bridge, live runs in redis://:***@cache:6379/0"


def test_redis_carries_the_live_state_when_set(tmp_path: Path):
    why = missing("redis")
    if why:
        pytest.skip(why)

    async def go() -> None:
        store = await open_store(from_env({"BRIDGE_STORE": "memory", "BRIDGE_REDIS_URL": REDIS_URL}))
        try:
            assert isinstance(store, WithLive) and isinstance(store.records, MemoryStore)
        finally:
            await store.close()

    asyncio.run(go())


def test_keep_expiring_deletes_old_objects():
    clock = [1000.0]
    store = MemoryStore(lambda: clock[0])

    async def go() -> None:
        await store.put_response("t", StoredResponse("resp_1", {"id": "resp_1", "output": []}))
        clock[0] += 61
        task = asyncio.create_task(keep_expiring(store, 60, every=3600))
        while await store.get_response("t", "resp_1") is not None:
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(asyncio.wait_for(go(), 10))


def test_a_store_of_another_schema_version_is_refused_naming_the_file(tmp_path: Path):
    import sqlite3

    from openai_bridge.store.sqlite import StoreSchemaError

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.close()
    with pytest.raises(StoreSchemaError, match=f"{path}.*schema version 1"):
        asyncio.run(SQLiteStore.open(path))
