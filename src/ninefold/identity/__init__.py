"""ninefold.identity."""
