"""Public status page: components mapped to services, their states, uptime history and feeds."""
