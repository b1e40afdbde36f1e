"""Shared fixtures: reference territories loaded once per test database, named personas, clients
logged in with a verified second factor."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.core.management import call_command
from django.test import Client

# Départements whose communes the tests load (the others exist without communes).
TEST_DEPARTEMENTS = "13,93,69,75"


def reference_data_load() -> None:
    """The territories of `TEST_DEPARTEMENTS` and the demo organisations."""
    from cartostup.access.services import demo_organisations_ensure
    from cartostup.reports import commune_search
    from cartostup.territories import locator

    call_command("load_territories", departements=TEST_DEPARTEMENTS, verbosity=0)
    demo_organisations_ensure()
    # New rows, new ids: this process's indexes must not answer with the old ones.
    locator.invalidate()
    commune_search.invalidate()


# The rows in the test database once `reference_data_load` has run, read once per process
# (`reference_data_back`), by model.
_reference_rows: dict[type, list] = {}


@pytest.fixture
def reference_data_back(django_db_blocker) -> Iterator[None]:
    """For a test on committed data (`transactional_db`, whose flush empties every table after
    it; request this fixture first): the rows the next tests expect are put back after the
    flush, with their ids, so that this process's indexes of territories stay right. Loading
    the territories again took about 1.5 s a test."""
    from django.apps import apps
    from django.db import transaction

    with django_db_blocker.unblock():
        if not _reference_rows:
            for model in apps.get_models(include_auto_created=True):
                if model._meta.managed and not model._meta.proxy:
                    rows = list(model._base_manager.order_by("pk"))
                    if rows:
                        _reference_rows[model] = rows
    yield
    with django_db_blocker.unblock(), transaction.atomic():
        for model, rows in _reference_rows.items():
            # What the flush's own signal made again (content types, permissions) is kept.
            if not model._base_manager.exists():
                model._base_manager.bulk_create(rows)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`CARTOSTUP_BROWSER_TESTS=smoke` (set by `make test` for its SQLite run when PostgreSQL
    answers, where the browser tests then run in full): of the browser tests, only those
    marked `smoke` run; the others are reported as deselected."""
    if os.environ.get("CARTOSTUP_BROWSER_TESTS") != "smoke":
        return
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        later = item.get_closest_marker("browser") and not item.get_closest_marker("smoke")
        (left if later else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a test that drives no browser (and before its fixtures touch the database), the
    process's Chromium is closed, and Playwright's event loop with it (tests/browser/server.py)."""
    if "browser" not in getattr(item, "fixturenames", ()):
        from tests.browser.server import chromium_close

        chromium_close()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Chromium closed; the served applications' template database goes at the end of the run
    (see tests/browser/server.py), dropped by the process that runs the others."""
    from tests.browser.server import chromium_close, served_template_drop

    chromium_close()
    served_template_drop(session.config)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load territories once into the test database; every test's transaction rolls back to it.
    At the end, Chromium is closed before pytest-django tears the test database down: in a
    two-worker run ending on browser tests, Playwright's running event loop made Django refuse
    it (« Error when trying to teardown test databases: SynchronousOnlyOperation »)."""
    with django_db_blocker.unblock():
        reference_data_load()
    yield
    from tests.browser.server import chromium_close

    chromium_close()


@pytest.fixture
def persona(db) -> Callable[[str], object]:
    """`persona("cross13_analyst")` returns that demo user, created on first use."""
    from cartostup.access.services import demo_persona_ensure

    def get(username: str):
        return demo_persona_ensure(username=username)

    return get


def login_verified(client: Client, user) -> Client:
    """Log the user in with a confirmed TOTP device, as after entering a valid code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def client_for(persona) -> Callable[[str], Client]:
    """`client_for("admin")`: a test client logged in as that persona, second factor verified."""

    def make(username: str) -> Client:
        return login_verified(Client(), persona(username))

    return make


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in French: a request in another language (the public pages speak
    English and Arabic) leaves its language active in the thread that served it."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate limits are counted in process memory: each test starts with none."""
    from cartostup.reports import ratelimit

    ratelimit.reset()
    yield
    ratelimit.reset()


def audit_flushed() -> None:
    """Append the audit events held for anonymous acts (they wait for their hour to end)."""
    from datetime import timedelta

    from django.utils import timezone

    from cartostup.core.audit import audit_flush_pending

    audit_flush_pending(now=timezone.now() + timedelta(hours=2))
