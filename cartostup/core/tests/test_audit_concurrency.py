"""The audit trail under concurrent writers, on PostgreSQL (row locks on the chain's head:
SQLite locks the whole file instead). Each writer runs in its own thread, hence on its own
connection, on committed data (`transactional_db`)."""

from __future__ import annotations

import pytest
from django.db import connection

from cartostup.core.audit import audit_chain_problems, audit_record, chained_at_the_end
from cartostup.core.choices import AuditAction

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: row locks"),
]


@pytest.fixture(autouse=True)
def _reference_data_back(reference_data_back):
    """Set up before `transactional_db` (autouse fixtures come first), hence torn down after
    its flush, which empties every table: the reference rows come back (`conftest`)."""


def test_a_long_write_does_not_hold_the_platforms_audit_trail(transactional_db):
    """While a long transaction writes in a `chained_at_the_end` block, another request's
    event is chained at once; without the block it would wait on the head's row lock until
    that transaction ends (a 5,000-line import held every audited request of the platform)."""
    import threading
    import time

    from django.db import connections, transaction

    hold = 1.5
    started = threading.Event()
    timings: dict[str, float] = {}

    def long_write(gathered: bool) -> None:
        try:
            with transaction.atomic():
                if gathered:
                    with chained_at_the_end():
                        audit_record(actor=None, action=AuditAction.IMPORT, object_id="long")
                        started.set()
                        time.sleep(hold)
                else:
                    audit_record(actor=None, action=AuditAction.IMPORT, object_id="long")
                    started.set()
                    time.sleep(hold)
        finally:
            connections.close_all()

    def other() -> None:
        try:
            started.wait(5)
            begun = time.monotonic()
            audit_record(actor=None, action=AuditAction.VIEW, object_id="other")
            timings["other"] = time.monotonic() - begun
        finally:
            connections.close_all()

    for gathered in (False, True):
        started.clear()
        threads = [
            threading.Thread(target=long_write, args=(gathered,)),
            threading.Thread(target=other),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        waited = timings["other"]
        if gathered:
            assert waited < hold / 3, waited
        else:
            # The control: the same writes without the block queue on the head.
            assert waited > hold / 2, waited
    assert list(audit_chain_problems()) == []
