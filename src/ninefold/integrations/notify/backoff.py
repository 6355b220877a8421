"""Retry timing for outbound notifications: exponential backoff with full jitter, then dead letter.

Full jitter (delay drawn uniformly from ``[0, min(cap, base * multiplier ** (attempt - 1))]``) spreads
retries from many failed deliveries so that a recovering receiver is not hit by a synchronised wave.
Pure: the random source is injected, so a seeded ``random.Random`` gives a reproducible schedule.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

Random = Callable[[], float]
"""A source of floats in ``[0, 1)``, such as ``random.Random(seed).random``."""


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long to wait between attempts and how many attempts to make before giving up."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=15)
    multiplier: float = 2.0
    max_attempts: int = 12

    def __post_init__(self) -> None:
        if self.base <= timedelta(0):
            raise ValueError("base delay must be positive")
        if self.cap < self.base:
            raise ValueError("cap must be at least the base delay")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What to do after a failed attempt: retry after ``delay``, or move to the dead-letter list."""

    dead_letter: bool
    delay: timedelta
    reason: str


def ceiling(policy: BackoffPolicy, attempt: int) -> timedelta:
    """Return the largest delay allowed after failed attempt number ``attempt`` (1-based)."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    base = policy.base.total_seconds()
    cap = policy.cap.total_seconds()
    exponent = attempt - 1
    # Compare in log space: multiplier ** exponent overflows a float long before attempts run out.
    if policy.multiplier > 1 and exponent * math.log(policy.multiplier) >= math.log(cap / base):
        return policy.cap
    return min(policy.cap, timedelta(seconds=base * policy.multiplier**exponent))


def jittered_delay(policy: BackoffPolicy, attempt: int, rand: Random = random.random) -> timedelta:
    """Return a full-jitter delay in ``[0, ceiling(attempt)]`` after failed attempt ``attempt``."""
    draw = rand()
    if not 0.0 <= draw <= 1.0:
        raise ValueError(f"random source returned {draw}, outside [0, 1]")
    # Whole milliseconds keep stored schedules readable and the arithmetic exact.
    return timedelta(
        milliseconds=math.floor(ceiling(policy, attempt) / timedelta(milliseconds=1) * draw)
    )


def decide(
    policy: BackoffPolicy,
    *,
    attempts: int,
    permanent: bool = False,
    retry_after: timedelta | None = None,
    rand: Random = random.random,
) -> RetryDecision:
    """Decide what follows ``attempts`` failed attempts: a jittered retry or the dead-letter list.

    A permanent failure (the receiver refused the message itself) is dead-lettered at once. A
    receiver's ``Retry-After`` is honoured as a lower bound, but never beyond the policy's cap, so
    a page is not held back for hours by one misconfigured proxy.
    """
    if attempts < 1:
        raise ValueError("decide() is called after at least one failed attempt")
    if permanent:
        return RetryDecision(True, timedelta(0), "permanent failure")
    if attempts >= policy.max_attempts:
        return RetryDecision(True, timedelta(0), f"gave up after {attempts} attempts")
    delay = jittered_delay(policy, attempts, rand)
    if retry_after is not None and retry_after > delay:
        return RetryDecision(False, min(retry_after, policy.cap), "receiver asked to retry later")
    return RetryDecision(False, delay, f"retry {attempts + 1} of {policy.max_attempts}")
