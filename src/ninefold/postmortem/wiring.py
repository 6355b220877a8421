"""How the postmortem policy and the SLI source reach flows deep in other domains' paths.

The incident resolve path has no settings at hand, so the app puts the policy (from settings)
and the Prometheus source on its session factory's ``info``, as it does for the link secret;
sessions made elsewhere (the CLI) read the settings from the environment instead.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ninefold.config import Settings
from ninefold.postmortem.policy import PostmortemPolicy
from ninefold.slo.sources import Source

log = logging.getLogger("ninefold.postmortem")

POLICY_KEY = "postmortem_policy"
SOURCE_KEY = "postmortem_sli_source"


def policy_from_settings(settings: Settings) -> PostmortemPolicy:
    """The postmortem policy the settings describe."""
    return PostmortemPolicy(
        severities=(
            tuple(settings.postmortem_severities)
            if settings.postmortem_severities is not None
            else None
        ),
        budget_threshold=settings.postmortem_budget_threshold,
        template_path=settings.postmortem_template,
    )


def share(factory: sessionmaker[Session], settings: Settings) -> None:
    """Give every session of ``factory`` the policy and SLI source of ``settings``."""
    from ninefold.slo.wiring import prometheus_source

    info: dict[str, Any] = dict(factory.kw.get("info") or {})
    info[POLICY_KEY] = policy_from_settings(settings)
    info[SOURCE_KEY] = prometheus_source(settings)
    factory.configure(info=info)


def session_policy(session: Session) -> PostmortemPolicy:
    """The policy of this session's app, else the one the environment's settings describe."""
    policy = session.info.get(POLICY_KEY)
    if isinstance(policy, PostmortemPolicy):
        return policy
    from ninefold.config import load_settings
    from ninefold.errors import NinefoldError

    try:
        return policy_from_settings(load_settings())
    except NinefoldError:
        log.warning("invalid settings; using the default postmortem policy")
        return PostmortemPolicy()


def session_source(session: Session) -> Source | None:
    """The Prometheus source for ``source: prometheus`` SLOs, if configured."""
    source: Source | None = session.info.get(SOURCE_KEY)
    return source
