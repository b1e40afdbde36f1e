"""The environment of a fresh process of the project (a `manage.py` command, a server, a probe of
the settings): this process's, without its own Cartostup, Django and database settings, which
the caller then gives."""

from __future__ import annotations

import os

OWN_SETTINGS = ("CARTOSTUP_", "DJANGO_", "DATABASE_URL")


def process_environment(**values: str) -> dict[str, str]:
    """`os.environ` without the project's settings, then `values`."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(OWN_SETTINGS)
    }
    environment.update(values)
    return environment
