"""ninefold: one self-hosted service for the whole reliability loop."""

__version__ = "0.1.0"
