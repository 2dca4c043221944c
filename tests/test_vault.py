import multiprocessing
import stat
from pathlib import Path

import pytest

from openai_bridge.errors import InvalidRequest
from openai_bridge.vault import PREFIX, ReasoningVault, load_secret


def test_round_trip_and_opaque():
    vault = ReasoningVault(b"k")
    blob = vault.seal("I should add 2 and 2.")
    assert blob.startswith(PREFIX)
    assert "add 2" not in blob
    assert vault.open(blob) == "I should add 2 and 2."


@pytest.mark.parametrize("change", ["flip", "truncate", "append"])
def test_tampering_is_rejected(change):
    vault = ReasoningVault(b"k")
    blob = vault.seal("secret thoughts")
    body = blob[len(PREFIX):]
    if change == "flip":
        i = len(body) // 2
        body = body[:i] + ("A" if body[i] != "A" else "B") + body[i + 1:]
    elif change == "truncate":
        body = body[:-4]
    else:
        body += "AAAA"
    with pytest.raises(InvalidRequest) as err:
        vault.open(PREFIX + body, "input[3].encrypted_content")
    assert err.value.status == 400
    assert err.value.param == "input[3].encrypted_content"
    assert err.value.code == "invalid_encrypted_content"
    assert "failed authentication" in err.value.message


def test_other_key_is_rejected():
    with pytest.raises(InvalidRequest, match="failed authentication"):
        ReasoningVault(b"other").open(ReasoningVault(b"k").seal("x"))


def test_foreign_blob_gets_a_clear_error():
    with pytest.raises(InvalidRequest, match="not produced by this bridge"):
        ReasoningVault(b"k").open("gAAAAABoOpenAIsOwnEncryptedReasoning")


def test_key_file_is_made_once_private_and_reused(tmp_path):
    first = load_secret(None, tmp_path / "state")
    path = tmp_path / "state" / "reasoning.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(None, tmp_path / "state") == first
    blob = ReasoningVault(first).seal("x")
    assert ReasoningVault(load_secret(None, tmp_path / "state")).open(blob) == "x"  # a restart can open it


def test_env_secret_wins(tmp_path):
    assert load_secret("from-env", tmp_path) == b"from-env"
    assert not (tmp_path / "reasoning.key").exists()


PROCESSES, TRIALS = 4, 40


def _load_together(barrier, state_dirs, results):
    # One of the processes that start together on a shared state directory: each trial, all of them are
    # released at once and each loads the key of a fresh directory.
    for state_dir in state_dirs:
        barrier.wait()
        results.put((state_dir, load_secret(None, state_dir)))


def test_processes_starting_together_agree_on_the_key(tmp_path):
    # spawn, not fork: the test process may run threads (servers of other tests).
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    state_dirs = [tmp_path / f"trial-{i}" / "state" for i in range(TRIALS)]
    procs = [ctx.Process(target=_load_together, args=(barrier, state_dirs, results)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    keys: dict[Path, set[bytes]] = {d: set() for d in state_dirs}
    try:
        for _ in range(PROCESSES * TRIALS):
            state_dir, key = results.get(timeout=60)
            keys[state_dir].add(key)
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    disagreed = [d.parent.name for d, found in keys.items() if len(found) != 1]
    assert disagreed == [], f"{len(disagreed)} of {TRIALS} trials disagreed"
    for state_dir, (key,) in keys.items():
        assert len(key) == 44 and (state_dir / "reasoning.key").read_bytes() == key
        assert [p.name for p in state_dir.iterdir()] == ["reasoning.key"]  # no temporary file left behind
