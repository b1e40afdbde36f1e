"""Clients shared by the bad-input tests: a refused request must answer its 4xx or 500 page
instead of raising in the test."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def analyst(client_for) -> Client:
    """The CROSS 13 analyst, logged in (the staff forms and the staff API)."""
    client = client_for("cross13_analyst")
    client.raise_request_exception = False
    return client
