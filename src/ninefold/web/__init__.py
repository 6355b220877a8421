"""The web console: server-rendered pages (Jinja2 + htmx), login sessions and static assets."""
