"""Postmortems (drafts generated from incidents), action items and repeat detection."""
