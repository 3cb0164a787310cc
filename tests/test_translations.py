"""The notes' catalogs: every message of the code is translated, and each committed .mo is its .po compiled."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from config import load_settings
from read_receipts.delivery.notes import NamedReply, SummedLoads, Words
from read_receipts.labels.openers import APPLE_PRELOAD, PERSON, SCANNER
from read_receipts.setting_values import TRANSLATIONS, ConfigError, languages

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def messages(catalog) -> dict:
    """A catalog's translations by message id (the header aside)."""
    return {_key(message.id): _key(message.string) for message in catalog if message.id}


def _key(text):
    """A message id or string; a plural's forms as a tuple (the .po reader gives tuples, the .mo reader lists)."""
    return text if isinstance(text, str) else tuple(text)


def in_the_code() -> set:
    """The message ids the notes' code has, as `pybabel extract -F babel.cfg` finds them."""
    found = extract_from_file("python", ROOT / "read_receipts/delivery/notes.py")
    return {message if isinstance(message, str) else tuple(message) for _, message, _, _ in found}


def test_at_least_one_language_besides_english_ships():
    assert CATALOGS and "de" in languages()


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_every_message_of_the_code_is_translated(po):
    with po.open("rb") as source:
        catalog = messages(read_po(source))
    assert set(catalog) == in_the_code(), "run pybabel extract and update (README, Development)"
    untranslated = [
        key for key, string in catalog.items() if not (all(string) if isinstance(string, tuple) else string)
    ]
    assert untranslated == []


@pytest.mark.parametrize("po", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_the_committed_mo_is_its_po_compiled(po):
    with po.open("rb") as source, po.with_suffix(".mo").open("rb") as compiled:
        assert messages(read_mo(compiled)) == messages(read_po(source)), "run pybabel compile (README, Development)"


@pytest.mark.parametrize(("raw", "found"), [("en", "en"), ("de", "de"), ("de-AT", "de_AT"), ("en_GB", "en_GB")])
def test_note_language_takes_a_shipped_language_with_or_without_region(raw, found):
    assert load_settings({"NOTE_LANGUAGE": raw}).note_language == found


@pytest.mark.parametrize("raw", ["fr", "klingon", "x"])
def test_a_language_without_a_catalog_is_refused_with_the_shipped_ones(raw):
    with pytest.raises(ConfigError, match=r"NOTE_LANGUAGE must be a language the notes are written in: de, en"):
        load_settings({"NOTE_LANGUAGE": raw})


def test_the_readme_s_example_notes_are_what_the_service_writes():
    """The README's notes: a reply Ann wrote on Tue 1 Dec at 17:58 UTC, loaded 2 h 13 min later (summaries: 3 h 13 min)."""
    written = datetime(2026, 12, 1, 17, 58, tzinfo=UTC).timestamp()
    opened, last = written + 2 * 3600 + 13 * 60, written + 3 * 3600 + 13 * 60
    reply, in_copy = NamedReply(written, "Ann"), NamedReply(written, "Ann", ccs=2)
    english, german = Words("en", "UTC"), Words("de", "Europe/Berlin")
    written_by_the_service = {
        english.first_open(opened, reply, PERSON, "Gmail", written),
        english.first_open(opened, reply, APPLE_PRELOAD, "", written),
        english.first_open(opened, reply, SCANNER, "Mimecast", written),
        english.first_open(opened, in_copy, PERSON, "Outlook", written),
        english.more_opens(SummedLoads(3, 1), last, reply),
        german.first_open(opened, reply, PERSON, "Gmail", written),
    }
    quoted = {
        line.removeprefix("> ") for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("> ")
    }
    notes = {line for line in quoted if line.startswith(("Read receipt:", "Lesebestätigung:"))}
    assert notes == written_by_the_service
