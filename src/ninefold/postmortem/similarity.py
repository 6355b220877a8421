"""Repeat detection: is a new incident a possible repeat of a past one? (pure)

A past incident is a possible repeat when it shares an affected service with the new one and

* an attached alert has the same fingerprint (the alert's label set; reason ``fingerprint``), or
* the titles are similar: the token-set Jaccard index of their normalised words is at least
  ``TITLE_THRESHOLD`` (0.6; reason ``title``).

Normalised words: lower case, split on anything that is not a letter or digit, without the
stop words below and without single letters. Jaccard(A, B) = |A ∩ B| / |A ∪ B| (0 when both
are empty). "Checkout API returns 500 errors" and "checkout api 500 errors" share {checkout,
api, 500, errors} of {checkout, api, returns, 500, errors}: 0.8.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

TITLE_THRESHOLD = 0.6
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "were",
        "with",
    ]
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(title: str) -> frozenset[str]:
    """The normalised word set of a title."""
    return frozenset(
        w
        for w in _WORD.findall(title.lower())
        if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())
    )


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """|A ∩ B| / |A ∪ B|; 0.0 for two empty sets."""
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


def title_similarity(a: str, b: str) -> float:
    """Jaccard index of the normalised words of two titles."""
    return jaccard(words(a), words(b))


@dataclass(frozen=True, slots=True)
class IncidentShape:
    """What repeat detection compares: title, affected service ids, alert fingerprints."""

    title: str
    services: frozenset[int]
    fingerprints: frozenset[str]


@dataclass(frozen=True, slots=True)
class RepeatMatch:
    """Why a past incident looks like a repeat: ``fingerprint`` or ``title``, with a score."""

    reason: str
    score: float


def match(
    new: IncidentShape, past: IncidentShape, *, threshold: float = TITLE_THRESHOLD
) -> RepeatMatch | None:
    """The match between a new and a past incident, or None (a shared service is required)."""
    if not new.services & past.services:
        return None
    if new.fingerprints & past.fingerprints:
        return RepeatMatch("fingerprint", 1.0)
    score = title_similarity(new.title, past.title)
    if score >= threshold:
        return RepeatMatch("title", round(score, 4))
    return None
