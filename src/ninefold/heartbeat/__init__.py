"""Heartbeat monitors: jobs that must ping every interval, alerting when a ping is missed."""
