"""The durable notification outbox: channels, queued notifications and their delivery job.

A notification is written to the outbox in the same transaction as the state change that caused it
(``flows.enqueue``) and delivered later by the engine (``flows.deliver_due``), with retries,
exponential backoff with full jitter and a dead-letter list.
"""
