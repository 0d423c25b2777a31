"""Server-rendered pages for end users: login, home, app home (Jinja2, no build step)."""
