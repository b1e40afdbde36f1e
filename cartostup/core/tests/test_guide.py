"""The user guide (docs/guide/) shows what the pages show."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from django.conf import settings


def test_the_guides_weeks_are_written_as_the_pages_write_them():
    """The landlord's guide said « semaine du 9 mars » where the pages say « semaine du
    30/11/2026 » (the Monday, as `d/m/Y`)."""
    examples = []
    for path in sorted(Path(settings.BASE_DIR, "docs", "guide").glob("*.md")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        for example in re.findall(r"« semaine du ([^»]+?) »", text, flags=re.IGNORECASE):
            examples.append((path.name, example))
    assert any(name == "bailleur.md" for name, _example in examples)
    for name, example in examples:
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", example), (name, example)
        assert datetime.strptime(example, "%d/%m/%Y").weekday() == 0, (name, example)
