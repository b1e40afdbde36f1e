from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from cartostup.territories import locator

FIXTURES = Path(__file__).parent / "fixtures"
QPV_FIXTURE = FIXTURES / "qpv_fictifs.geojson"


@pytest.fixture
def qpv_imported(db):
    """The fictional QPV of the fixture, imported for one test (rolled back afterwards)."""
    call_command("import_qpv", str(QPV_FIXTURE), verbosity=0)
    yield
    # The rollback removes the rows; the per-process index must forget them too.
    locator.invalidate()
