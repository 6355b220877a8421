"""The bundled demo: example organisation with synthetic traffic."""
