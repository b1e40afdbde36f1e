"""French plurals: French is the source language, and says « 0 point de deal » (n > 1)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext

from cartostup.core.management.commands.compile_translations import (
    catalogues,
    po_parse,
    project_plurals,
)


def test_every_plural_of_the_sources_is_in_the_french_catalogue():
    """A plural missing from the French catalogue falls back on gettext's rule (n != 1):
    « 0 signalements », « 0 points de deal »."""
    french = next(po for po in catalogues() if po.parent.parent.name == "fr")
    entries = {
        (entry.msgid, entry.msgid_plural): entry.msgstr
        for entry in po_parse(french)
        if entry.msgid_plural is not None
    }
    plurals = project_plurals()
    assert len(plurals) >= 10
    for singular, plural in plurals:
        assert entries.get((singular, plural)) == {0: singular, 1: plural}, singular


def test_zero_and_one_are_singular_in_french():
    with translation.override(settings.LANGUAGE_CODE):
        for count, expected in ((0, "0 point de deal"), (1, "1 point de deal"), (2, "2 points")):
            text = ngettext("%(shown)s point de deal", "%(shown)s points de deal", count) % {
                "shown": count
            }
            assert text.startswith(expected)


@pytest.mark.parametrize(
    ("url", "text"),
    [("dealpoints:list", "0 point de deal"), ("reports:triage_list", "0 signalement")],
)
def test_an_empty_list_says_zero_in_the_singular(client_for, url, text):
    page = client_for("cross93_analyst").get(reverse(url)).content.decode()
    assert f">{text}</p>" in page
