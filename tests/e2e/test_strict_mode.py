"""BRIDGE_STRICT: a field the bridge cannot honour is a 400 naming it; by default it is dropped and logged."""

from __future__ import annotations

import logging

import httpx
import pytest

from openai_bridge.settings import Settings
from openai_bridge.testing import ScriptedUpstream, running_bridge
from openai_bridge.testing import scripted as s
from openai_bridge.translate import Options

BODY = {"model": "m", "input": "hi", "tools": [{"type": "web_search"}], "text": {"verbosity": "low"}}


@pytest.mark.parametrize(("strict", "status"), [(True, 400), (False, 200)])
def test_unhonoured_field(strict, status, caplog, conformance):
    caplog.set_level(logging.WARNING, logger="openai_bridge")
    with ScriptedUpstream(s.answer("ok")) as up, \
            running_bridge(Settings(upstream=up.base_url, translate=Options(strict=strict)),
                           wrap=conformance.wrap) as url:
        r = httpx.post(url + "/v1/responses", json=BODY)
        assert r.status_code == status, r.text
        if strict:
            error = r.json()["error"]
            assert error["param"] == "tools[0]" and error["code"] == "unsupported_parameter"
            assert "web_search" in error["message"]
            assert up.chat_requests == []
        else:
            assert r.json()["output"][0]["content"][0]["text"] == "ok"
            assert "tools" not in up.last.body and "verbosity" not in up.last.body
            logged = " ".join(rec.getMessage() for rec in caplog.records)
            assert "tools[0]" in logged and "text.verbosity" in logged
