"""ninefold.catalog."""
