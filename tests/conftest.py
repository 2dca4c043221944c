"""Test-suite-wide: every Response and stream event a bridge answers in these tests is checked against what
OpenAI's API reference promises (tests/support/conformance.py); a test that made the bridge answer a
non-conforming object fails."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.conformance import Recorder


@pytest.fixture(scope="session")
def conformance() -> Recorder:
    """Wrap bridges with `conformance.wrap` (the `wrap=` of `running_bridge`)."""
    return Recorder()


@pytest.fixture(autouse=True)
def _answers_conform(conformance: Recorder) -> Iterator[None]:
    conformance.problems.clear()
    yield
    assert conformance.problems == [], "the bridge answered objects OpenAI's reference does not allow"


@pytest.fixture(scope="session", autouse=True)
def _state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every bridge a test starts, in-process or as a process, keeps its files (the reasoning key, the default
    SQLite store) in a directory of the test run's, never in the user's ~/.local/state (a test that names its
    own BRIDGE_STATE_DIR still does)."""
    saved = os.environ.get("BRIDGE_STATE_DIR")
    os.environ["BRIDGE_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    yield
    if saved is None:
        os.environ.pop("BRIDGE_STATE_DIR", None)
    else:
        os.environ["BRIDGE_STATE_DIR"] = saved
