"""ninefold.system."""
