"""The fault suite: every test here is marked ``faults`` and runs under a hard time limit.

A test's limit is ``@pytest.mark.faults(limit=<seconds>)`` (default :data:`DEFAULT_LIMIT`). When
it passes, SIGALRM fails the test wherever it waits; the test's ``finally`` blocks and
fixtures then stop the processes it started, by PID.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

DEFAULT_LIMIT = 120.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults(limit=seconds): a fault-injection scenario with real processes (tests/faults)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in item.nodeid.replace("\\", "/") and not item.get_closest_marker(
            "faults"
        ):
            item.add_marker(pytest.mark.faults)


class ScenarioTimeout(BaseException):
    """The scenario ran past its hard limit (a BaseException: ``except Exception`` in a
    scenario must not swallow it)."""


@pytest.fixture(autouse=True)
def _hard_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    marker = request.node.get_closest_marker("faults")
    limit = float(marker.kwargs.get("limit", DEFAULT_LIMIT)) if marker else DEFAULT_LIMIT
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"scenario exceeded its hard limit of {limit:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
