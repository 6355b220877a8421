"""ninefold.db."""
