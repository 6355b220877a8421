"""ninefold.integrations."""
