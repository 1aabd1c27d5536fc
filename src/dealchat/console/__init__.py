"""The compliance and desk console: server-rendered pages (Jinja2) that call services only."""
