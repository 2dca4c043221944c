import pytest

from openai_bridge.errors import NotFound
from openai_bridge.store.items import ItemCache

MSG = {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hi"}]}


def test_resolve_replaces_references_in_place():
    cache = ItemCache()
    cache.put([MSG])
    request = {"input": [{"role": "user", "content": "a"}, {"type": "item_reference", "id": "msg_1"}, "x"]}
    out = cache.resolve(request)
    assert out["input"] == [{"role": "user", "content": "a"}, MSG, "x"]
    assert request["input"][1] == {"type": "item_reference", "id": "msg_1"}  # the client's request is untouched


def test_stored_copy_is_frozen():
    cache = ItemCache()
    item = {**MSG, "content": [{"type": "output_text", "text": "hi"}]}
    cache.put([item])
    item["content"][0]["text"] = "changed"
    assert cache.get("msg_1") == MSG


def test_unknown_reference_is_a_404_naming_it():
    with pytest.raises(NotFound) as err:
        ItemCache().resolve({"input": [{"type": "item_reference", "id": "rs_gone"}]})
    assert err.value.status == 404 and err.value.param == "input[0].id"
    assert "rs_gone" in err.value.message


def test_bounded_by_count_and_size():
    cache = ItemCache(max_items=3)
    cache.put([{"id": f"i{n}"} for n in range(5)])
    assert len(cache) == 3 and cache.get("i0") is None and cache.get("i4") == {"id": "i4"}
    small = ItemCache(max_bytes=100)
    small.put([{"id": "a", "t": "x" * 60}, {"id": "b", "t": "y" * 60}])
    assert small.get("a") is None and small.get("b") is not None


def test_no_reference_returns_the_same_object():
    request = {"input": "hi"}
    assert ItemCache().resolve(request) is request


def test_an_item_larger_than_the_whole_budget_is_not_kept_and_evicts_nothing(caplog: pytest.LogCaptureFixture):
    cache = ItemCache(max_bytes=200)
    cache.put([{"id": "a", "t": "x" * 50}, {"id": "b", "t": "y" * 50}])
    cache.put([{"id": "huge", "t": "z" * 500}])
    assert cache.get("huge") is None
    assert cache.get("a") is not None and cache.get("b") is not None
    assert "huge" in caplog.text


def test_a_too_large_new_version_of_an_item_drops_the_old_one():
    """Keeping the old version would resolve a reference to content the client no longer has."""
    cache = ItemCache(max_bytes=200)
    cache.put([{"id": "a", "t": "x"}])
    cache.put([{"id": "a", "t": "z" * 500}])
    assert cache.get("a") is None and len(cache) == 0
