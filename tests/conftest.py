"""Test-suite-wide: every Response and stream event a bridge answers in these tests is checked against what
OpenAI's API reference promises (tests/support/conformance.py); a test that made the bridge answer a
non-conforming object fails."""

from __future__ import annotations

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
