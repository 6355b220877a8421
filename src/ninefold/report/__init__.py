"""Reliability reports: SLO attainment, incident response, on-call health and DORA metrics.

Read-only: the report domain owns no tables; ``store.py`` reads the other domains' tables and the
pure formula modules (``stats``, ``slo_metrics``, ``incident_metrics``, ``oncall_metrics``,
``dora``) turn plain rows into numbers. Every formula is written in ``docs/metrics.md``.
"""
