"""The Polish catalog covers every user-facing string, and the compiled file matches it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "voting" / "translations" / "pl" / "LC_MESSAGES"


def read_catalog():  # noqa: ANN201
    with (CATALOG / "messages.po").open("rb") as handle:
        return read_po(handle, locale="pl")


def test_i18n_every_string_in_the_code_has_a_polish_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).parent / "pybabel"
    subprocess.run([str(pybabel), "--quiet", "extract", "-F", "babel.cfg", "-k", "_l", "-k",
                    "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True)
    with pot.open("rb") as handle:
        wanted = {message.id for message in read_po(handle) if message.id}
    catalog = read_catalog()
    def translated(message) -> bool:  # noqa: ANN001 -- a plural needs each of its forms
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        return all(forms) and not message.fuzzy

    missing = sorted((m for m in wanted
                      if catalog.get(m) is None or not translated(catalog.get(m))), key=str)
    assert not missing, f"untranslated (run scripts/i18n.sh update): {missing[:10]}"


def test_i18n_compiled_catalog_matches_the_po_file():
    catalog = read_catalog()
    with (CATALOG / "messages.mo").open("rb") as handle:
        compiled = read_mo(handle)
    def plain(value):  # noqa: ANN001, ANN202 -- a plural's forms come back as a list from .mo
        return tuple(value) if isinstance(value, list | tuple) else value

    source = {plain(m.id): plain(m.string) for m in catalog
              if m.id and m.string and not m.fuzzy}
    built = {plain(m.id): plain(m.string) for m in compiled if m.id}
    assert built == source, "run scripts/i18n.sh compile"


def test_i18n_pages_are_polish_by_default_and_english_on_request(client, small_gala):
    catalog = read_catalog()
    polish = catalog.get("How to vote").string
    assert polish and polish != "How to vote"
    page = client.get("/").get_data(as_text=True)
    assert polish in page and 'lang="pl"' in page
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True)
    assert "How to vote" in english and 'lang="en"' in english
    german_first = client.get("/", headers={"Accept-Language": "de, pl;q=0.5"}).get_data(
        as_text=True)
    assert polish in german_first


def test_i18n_switch_is_remembered_over_the_browser_language(client, small_gala):
    client.get("/lang/pl?next=/")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="pl"' in page
