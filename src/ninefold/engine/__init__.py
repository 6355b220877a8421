"""ninefold.engine."""
