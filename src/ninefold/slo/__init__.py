"""ninefold.slo."""
