import stat

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
