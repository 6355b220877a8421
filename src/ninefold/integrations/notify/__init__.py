"""Outbound notifications: a channel-neutral message, payload builders, signing, senders, backoff.

``message``, ``payloads``, ``signing`` and ``backoff`` are pure (standard library and ``ninefold.core``
only); ``senders`` is the edge that talks HTTP and SMTP. Nothing is re-exported here so that importing
a pure module never drags in the network stack.
"""
