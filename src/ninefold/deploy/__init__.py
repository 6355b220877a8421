"""Deployments: deploy events per service, shown on incident timelines."""
