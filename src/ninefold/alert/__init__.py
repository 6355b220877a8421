"""Alerts: inbound formats, deduplication, routing, silences and inhibition."""
