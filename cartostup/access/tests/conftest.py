"""Fixtures shared by the access app's tests."""

from __future__ import annotations

import pytest

from cartostup.access.models import User
from cartostup.access.tests.test_accounts import PASSWORD


@pytest.fixture
def analyst(persona) -> User:
    """The CROSS 13 analyst, with the known password `PASSWORD`."""
    user = persona("cross13_analyst")
    user.set_password(PASSWORD)
    user.save()
    return user
