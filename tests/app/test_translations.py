"""Every user-facing string is in the catalogue and has a Spanish translation, and the intake
form reaches Spanish speakers all in Spanish."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from tests.booking.test_booking_steps import walk

ROOT = Path(__file__).resolve().parents[2]
SPANISH = ROOT / "clinic/translations/es/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def extract(tmp_path) -> set[str]:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            # As the Makefile: Babel skips folders starting with _ (templates/_macros) otherwise.
            "--ignore-dirs",
            ".*",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as f:
        return {
            message.id if isinstance(message.id, str) else message.id[0]
            for message in read_po(f)
            if message.id
        }


def spanish():
    with SPANISH.open("rb") as f:
        return [message for message in read_po(f) if message.id]


def test_catalogue_is_up_to_date_with_the_code(tmp_path):
    in_code = extract(tmp_path)
    in_catalogue = {m.id if isinstance(m.id, str) else m.id[0] for m in spanish()}
    missing = in_code - in_catalogue
    assert not missing, f"run `make translations-update` and translate: {sorted(missing)[:5]}"


def test_every_message_has_a_spanish_translation():
    untranslated = [
        m.id
        for m in spanish()
        if m.fuzzy or not all(m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    assert not untranslated, untranslated[:5]


def test_translations_keep_their_placeholders():
    for message in spanish():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == expected, message.id


def test_the_intake_form_is_all_spanish_in_spanish(client):
    """The form's sections come from templates/_macros, a folder Babel skips by default: its
    headings and hints once reached Spanish speakers in English. Every step, in Spanish."""
    client.post("/language", data={"lang": "es", "next": "/"})
    pages = "\n".join(walk(client))
    for spanish in ("Sobre ti", "Tu tatuaje", "Preguntas de salud", "Una última cosa"):
        assert spanish in pages
    for english in ("About you", "Health questions", "We use it to check the age rule"):
        assert english not in pages
