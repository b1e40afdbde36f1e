"""Compile the project's translations (`cartostup/locale/*/LC_MESSAGES/django.po`) into the
`.mo` files Django reads, in pure Python: GNU gettext's `msgfmt` is not needed (`make setup`
and `make messages` run this; the `.mo` files are committed too, and a test checks that they
match their `.po`).

`--check` writes nothing and fails if a `.mo` is missing or out of date.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


@dataclass
class Entry:
    context: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False


def _unquote(line: str, path: Path, number: int) -> str:
    try:
        value = ast.literal_eval(line)
    except (SyntaxError, ValueError) as error:
        raise CommandError(f"{path}:{number}: chaîne mal formée") from error
    if not isinstance(value, str):
        raise CommandError(f"{path}:{number}: chaîne attendue")
    return value


def po_parse(path: Path) -> list[Entry]:
    """The entries of a `.po` file (msgctxt, msgid, msgid_plural, msgstr[n], fuzzy flags)."""
    entries: list[Entry] = []
    entry = Entry()
    target: tuple[str, int] | None = None
    started = False

    def finish() -> None:
        nonlocal entry, started, target
        if started:
            entries.append(entry)
        entry, started, target = Entry(), False, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#,"):
            if started and target and target[0] == "msgstr":
                finish()
            entry.fuzzy = "fuzzy" in line
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if line.startswith('"'):
            if target is None:
                raise CommandError(f"{path}:{number}: suite de chaîne sans mot-clé")
            value = _unquote(line, path, number)
            name, index = target
            if name == "msgctxt":
                entry.context = (entry.context or "") + value
            elif name == "msgid":
                entry.msgid += value
            elif name == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + value
            else:
                entry.msgstr[index] += value
            continue
        if keyword in {"msgctxt", "msgid"} and started and target and target[0] == "msgstr":
            finish()  # a new entry without a blank line before it
        started = True
        value = _unquote(rest, path, number)
        if keyword == "msgctxt":
            entry.context, target = value, ("msgctxt", 0)
        elif keyword == "msgid":
            entry.msgid, target = value, ("msgid", 0)
        elif keyword == "msgid_plural":
            entry.msgid_plural, target = value, ("msgid_plural", 0)
        elif keyword == "msgstr":
            entry.msgstr[0], target = value, ("msgstr", 0)
        elif keyword.startswith("msgstr[") and keyword.endswith("]"):
            index = int(keyword[7:-1])
            entry.msgstr[index], target = value, ("msgstr", index)
        else:
            raise CommandError(f"{path}:{number}: mot-clé inconnu {keyword!r}")
    finish()
    return entries


def mo_bytes(entries: list[Entry]) -> bytes:
    """A GNU `.mo` catalogue (little-endian, sorted keys, no hash table) of the translated,
    non-fuzzy entries and the header."""
    messages: dict[bytes, bytes] = {}
    for entry in entries:
        is_header = entry.msgid == "" and entry.context is None
        if entry.fuzzy and not is_header:
            continue
        key = entry.msgid
        if entry.msgid_plural is not None:
            key += "\0" + entry.msgid_plural
            values = [entry.msgstr.get(i, "") for i in range(max(entry.msgstr, default=0) + 1)]
            if not all(values):
                continue
            value = "\0".join(values)
        else:
            value = entry.msgstr.get(0, "")
            if not value:
                continue
        if entry.context is not None:
            key = f"{entry.context}\x04{key}"
        messages[key.encode()] = value.encode()
    keys = sorted(messages)
    header_size = 7 * 4
    count = len(keys)
    ids_offset = header_size
    strs_offset = ids_offset + count * 8
    data_offset = strs_offset + count * 8
    ids = b""
    strs = b""
    id_table: list[int] = []
    for encoded in keys:
        id_table += [len(encoded), data_offset + len(ids)]
        ids += encoded + b"\0"
    str_start = data_offset + len(ids)
    str_table: list[int] = []
    for encoded in keys:
        translated = messages[encoded]
        str_table += [len(translated), str_start + len(strs)]
        strs += translated + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, count, ids_offset, strs_offset, 0, 0)
    tables = struct.pack(f"<{len(id_table)}I", *id_table) + struct.pack(
        f"<{len(str_table)}I", *str_table
    )
    return header + tables + ids + strs


def catalogues() -> list[Path]:
    paths: list[Path] = []
    for locale_path in settings.LOCALE_PATHS:
        paths += sorted(Path(locale_path).glob("*/LC_MESSAGES/*.po"))
    return paths


class Command(BaseCommand):
    help = "Compile cartostup/locale/*/LC_MESSAGES/*.po into .mo (pure Python, no gettext)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--check", action="store_true", help="Fail if a .mo is missing or out of date."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stale = []
        for po in catalogues():
            mo = po.with_suffix(".mo")
            compiled = mo_bytes(po_parse(po))
            if mo.exists() and mo.read_bytes() == compiled:
                continue
            if options["check"]:
                stale.append(str(mo))
                continue
            mo.write_bytes(compiled)
            if options["verbosity"] >= 1:
                self.stdout.write(f"{mo}")
        if stale:
            raise CommandError("Traductions à recompiler (make messages) : " + ", ".join(stale))


# --- what the sources ask to translate (no xgettext either) ----------------------------------

GETTEXT_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy"}


def python_messages(path: Path) -> set[str]:
    """The literal msgids of `gettext`-like calls in a Python file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in GETTEXT_NAMES:
            continue
        argument = node.args[1] if name.startswith("pgettext") else node.args[0]
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.add(argument.value)
    return found


def template_messages(name: str) -> set[str]:
    """The msgids of `{% translate %}` and `{% blocktranslate %}` in a template (parsed by
    Django itself, so exactly what it will look up), without following `extends`/`include`."""
    from django.template import Engine
    from django.templatetags.i18n import BlockTranslateNode, TranslateNode

    template = Engine.get_default().get_template(name)
    found: set[str] = set()

    def walk(nodelist: Any) -> None:
        for node in nodelist:
            if isinstance(node, TranslateNode):
                literal = getattr(node.filter_expression.var, "literal", None)
                if isinstance(literal, str):
                    found.add(literal)
            elif isinstance(node, BlockTranslateNode):
                found.add(node.render_token_list(node.singular)[0])
                if node.plural:
                    found.add(node.render_token_list(node.plural)[0])
            for attribute in getattr(node, "child_nodelists", ()):
                walk(getattr(node, attribute, None) or [])

    walk(template.nodelist)
    return found


# Plurals: French is the source language, but a message missing from the French catalogue is
# pluralised by gettext's default rule (n != 1: « 0 signalements »). French says « 0
# signalement » (Plural-Forms: n > 1), so every plural of the sources is in the French
# catalogue, its two forms the source's own (a test checks it).

NGETTEXT_NAMES = {"ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}


def python_plurals(path: Path) -> set[tuple[str, str]]:
    """The (singular, plural) msgids of `ngettext`-like calls in a Python file."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in NGETTEXT_NAMES:
            continue
        first = 1 if name.startswith("npgettext") else 0
        pair = node.args[first : first + 2]
        if len(pair) == 2 and all(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in pair
        ):
            found.add((pair[0].value, pair[1].value))  # type: ignore[attr-defined]
    return found


def template_plurals(name: str) -> set[tuple[str, str]]:
    """The (singular, plural) msgids of `{% blocktranslate count %}` in a template."""
    from django.template import Engine
    from django.templatetags.i18n import BlockTranslateNode

    template = Engine.get_default().get_template(name)
    found: set[tuple[str, str]] = set()

    def walk(nodelist: Any) -> None:
        for node in nodelist:
            if isinstance(node, BlockTranslateNode) and node.plural:
                found.add(
                    (
                        node.render_token_list(node.singular)[0],
                        node.render_token_list(node.plural)[0],
                    )
                )
            for attribute in getattr(node, "child_nodelists", ()):
                walk(getattr(node, attribute, None) or [])

    walk(template.nodelist)
    return found


def project_plurals() -> set[tuple[str, str]]:
    """Every plural message of the project's templates and Python files."""
    root = Path(settings.BASE_DIR, "cartostup")
    found: set[tuple[str, str]] = set()
    for path in root.rglob("*.py"):
        if "tests" not in path.parts and "migrations" not in path.parts:
            found |= python_plurals(path)
    for path in root.rglob("templates/**/*.html"):
        templates = next(parent for parent in path.parents if parent.name == "templates")
        found |= template_plurals(path.relative_to(templates).as_posix())
    return found
