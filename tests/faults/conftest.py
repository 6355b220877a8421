"""The fault suite: every test here is marked ``faults`` and runs under a hard time limit.

A test's limit is ``@pytest.mark.faults(limit=<seconds>)`` (default :data:`DEFAULT_LIMIT`). When
it passes, SIGALRM fails the test wherever it waits; the test's ``finally`` blocks and
fixtures then stop the processes it started, by PID.

``prometheus_feed`` (an exporter and a real Prometheus scraping it) starts with the session's
first test when a test of the session needs it: SLO windows end at a whole minute, so its data
must span one before ninefold evaluates, and other scenarios run meanwhile.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from tests.prom import Exporter, PrometheusServer

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


def _scrape(i: int) -> dict[str, float]:
    """100 good requests a second, none failing."""
    return {'app_requests_total{code="200"}': 100.0 * i, 'app_requests_total{code="500"}': 0.0}


@pytest.fixture(scope="session")
def prometheus_feed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Exporter, PrometheusServer]]:
    """A loopback exporter of ``app_requests_total`` and a Prometheus scraping it every second
    (the test using it may stop, freeze and restart that Prometheus)."""
    exporter = Exporter(_scrape, types={"app_requests_total": "counter"}).start()
    prom = PrometheusServer(tmp_path_factory.mktemp("prom"), targets=[exporter.target])
    try:
        prom.start()
        yield exporter, prom
    finally:
        process = prom.process
        if process is not None and process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)  # a frozen process would not act on SIGTERM
        prom.stop()
        exporter.stop()


@pytest.fixture(scope="session", autouse=True)
def _feed_early(request: pytest.FixtureRequest) -> Any:
    if any(
        "prometheus_feed" in getattr(item, "fixturenames", ()) for item in request.session.items
    ):
        return request.getfixturevalue("prometheus_feed")
    return None
