"""Incidents: declare, lifecycle, roles, timeline and stakeholder updates."""
