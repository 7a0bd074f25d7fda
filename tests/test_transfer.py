"""CSV import/export of nominees and JSON export/import of a whole gala."""

from __future__ import annotations

import base64
import copy
import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import demo_document
from flask import Flask
from sqlalchemy import func, select

from voting import services, transfer
from voting.errors import ImportRejectedError, LockedError
from voting.extensions import db
from voting.models import AuditEntry, Category, CategoryGroup, Gala, Nomination, Profile

ACTOR = "jury.chair@example.com"
HEADER = ("name", "unit_name", "unit_type", "voivodeship", "platform", "handle", "url",
          "description", "category", "citation")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def counts() -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Gala, Category, CategoryGroup, Profile, Nomination, AuditEntry)}


def csv_bytes(rows: list[tuple[str, ...]], *, header: tuple[str, ...] = HEADER,
              delimiter: str = ",", bom: bool = False, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode(encoding)


def row(name: str, url: str, category: str = "", citation: str = "", *,
        platform: str = "facebook", unit: str = "Gmina Wojkowice", unit_type: str = "gmina",
        voivodeship: str = "śląskie", handle: str = "", description: str = "") -> tuple[str, ...]:
    return (name, unit, unit_type, voivodeship, platform, handle, url, description, category,
            citation)


GOOD_ROWS = [
    row("Wojkowice", "https://www.facebook.com/wojkowice", "tiktok-roku", "za filmy z telefonu",
        description="Gmina, która robi wideo, telefonem"),
    row("Wojkowice", "https://www.facebook.com/wojkowice", "wideo-w-metropolii",
        description="Gmina, która robi wideo, telefonem"),
    row("Tychy", "https://www.facebook.com/tychy", unit="Miasto Tychy", unit_type="miasto"),
]


def profile_state(gala_id: int) -> dict[str, Any]:
    """Everything an import should reproduce about a gala's nominees, keyed by URL."""
    db.session.expire_all()
    state = {}
    for profile in db.session.scalars(select(Profile).where(Profile.gala_id == gala_id)):
        state[profile.url] = {
            "fields": (profile.name, profile.unit_name, profile.unit_type, profile.voivodeship,
                       profile.platform, profile.handle, profile.description),
            "nominations": sorted((n.category.slug, n.citation) for n in profile.nominations),
        }
    return state


def rejected_rows(call, *args: Any) -> list[int]:  # noqa: ANN001
    with pytest.raises(ImportRejectedError) as caught:
        call(*args)
    assert caught.value.rows, "a rejection must say what is wrong"
    return [number for number, _ in caught.value.rows]


def exported_rows(gala: Gala) -> list[list[str]]:
    body = transfer.export_profiles_csv(gala)
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:], newline="")))


# --- CSV import ----------------------------------------------------------------------------


def test_import_csv_comma_rows_with_one_url_are_one_profile(ctx, small_gala):
    before = counts()
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"], csv_bytes(GOOD_ROWS))
    assert summary == {"profiles": 2, "nominations": 2}
    state = profile_state(small_gala["gala"])
    assert state["https://www.facebook.com/wojkowice"] == {
        "fields": ("Wojkowice", "Gmina Wojkowice", "gmina", "śląskie", "facebook", "",
                   "Gmina, która robi wideo, telefonem"),
        "nominations": [("tiktok-roku", "za filmy z telefonu"), ("wideo-w-metropolii", "")],
    }
    assert state["https://www.facebook.com/tychy"]["nominations"] == []
    after = counts()
    assert after["Profile"] == before["Profile"] + 2
    assert after["Nomination"] == before["Nomination"] + 2
    assert after["AuditEntry"] == before["AuditEntry"] + 1
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.actor, entry.action, entry.details) == (ACTOR, "import.csv", summary)


def test_import_csv_semicolon(ctx, small_gala):
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"],
                                           csv_bytes(GOOD_ROWS, delimiter=";"))
    assert summary == {"profiles": 2, "nominations": 2}
    # the commas inside the description did not split it
    assert profile_state(small_gala["gala"])["https://www.facebook.com/wojkowice"]["fields"][
        -1] == "Gmina, która robi wideo, telefonem"


def test_import_csv_with_utf8_bom(ctx, small_gala):
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"],
                                           csv_bytes(GOOD_ROWS, bom=True, delimiter=";"))
    assert summary == {"profiles": 2, "nominations": 2}
    assert "https://www.facebook.com/wojkowice" in profile_state(small_gala["gala"])


@pytest.mark.parametrize("header", [
    ("Nazwa", "Jednostka", "Typ jednostki", "Województwo", "Platforma", "Konto", "Adres", "Opis",
     "Kategoria", "Uzasadnienie"),
    ("nazwa profilu", "samorząd", "rodzaj jednostki", "wojewodztwo", "platforma", "uchwyt",
     "link", "opis", "kategoria", "cytat"),
    ("Name", "Unit Name", "Unit_Type", "VOIVODESHIP", "Platform", "Handle", "URL",
     "Description", "Category", "Citation"),
])
def test_import_csv_polish_and_english_header_aliases(ctx, small_gala, header):
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"],
                                           csv_bytes(GOOD_ROWS, header=header, bom=True))
    assert summary == {"profiles": 2, "nominations": 2}
    state = profile_state(small_gala["gala"])
    assert state["https://www.facebook.com/wojkowice"]["fields"][3] == "śląskie"
    assert state["https://www.facebook.com/wojkowice"]["nominations"][0] == (
        "tiktok-roku", "za filmy z telefonu")


def test_import_csv_decomposed_polish_header_is_understood(ctx, small_gala):
    import unicodedata

    header = tuple(unicodedata.normalize("NFD", cell) for cell in (
        "Nazwa", "Jednostka", "Typ jednostki", "Województwo", "Platforma", "Konto", "Adres",
        "Opis", "Kategoria", "Uzasadnienie"))
    assert header[3] != "Województwo"
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"],
                                           csv_bytes(GOOD_ROWS, header=header))
    assert summary == {"profiles": 2, "nominations": 2}


def test_import_csv_values_are_normalised_like_the_admin_form(ctx, small_gala):
    import unicodedata

    rows = [row(unicodedata.normalize("NFD", "Łódź – kanał"), "tiktok.com/@lodz-kanal",
                "TikTok-Roku", platform="TikTok", unit_type="Miasto",
                voivodeship="Województwo Łódzkie")]
    transfer.import_profiles_csv(ACTOR, small_gala["gala"], csv_bytes(rows))
    state = profile_state(small_gala["gala"])["https://tiktok.com/@lodz-kanal"]
    assert state["fields"][:5] == ("Łódź – kanał", "Gmina Wojkowice", "miasto", "łódzkie",
                                   "tiktok")
    assert state["nominations"] == [("tiktok-roku", "")]


def test_import_csv_existing_url_nominates_the_existing_profile(ctx, small_gala):
    before = counts()
    rows = [row("Gdańsk (inna nazwa)", "https://www.youtube.com/@gdansk", "tiktok-roku",
                platform="youtube")]
    summary = transfer.import_profiles_csv(ACTOR, small_gala["gala"], csv_bytes(rows))
    assert summary == {"profiles": 0, "nominations": 1}
    assert counts()["Profile"] == before["Profile"]
    state = profile_state(small_gala["gala"])["https://www.youtube.com/@gdansk"]
    assert state["fields"][0] == "Gdańsk"  # the existing profile is not overwritten
    assert state["nominations"] == [("tiktok-roku", ""), ("wideo-w-metropolii", "")]


def test_import_csv_blank_lines_are_skipped(ctx, small_gala):
    raw = csv_bytes(GOOD_ROWS).replace(b"\r\n", b"\r\n\r\n", 2)
    assert transfer.import_profiles_csv(ACTOR, small_gala["gala"], raw) == {
        "profiles": 2, "nominations": 2}


BAD_FILES = {
    "bad url": (csv_bytes([GOOD_ROWS[0], row("Zły", "https://facebook.com.evil.com/x")]), [3]),
    "foreign url": (csv_bytes([row("Zły", "https://evil.com/facebook.com")]), [2]),
    "unknown category": (csv_bytes([row("Tychy", "https://facebook.com/tychy", "nie-ma")]),
                         [2]),
    "missing column": (csv_bytes([r[:6] + r[7:] for r in GOOD_ROWS],
                                 header=HEADER[:6] + HEADER[7:]), [1]),
    "unknown column": (csv_bytes([(*r, "x") for r in GOOD_ROWS], header=(*HEADER, "telefon")),
                       [1]),
    "not utf-8": (csv_bytes([row("Łódź", "https://facebook.com/lodz")], encoding="cp1250"),
                  [0]),
    "empty file": (b"", [0]),
    "only a BOM": (b"\xef\xbb\xbf", [0]),
    "header only": (csv_bytes([]), [2]),
    "duplicate nomination in the file": (csv_bytes([GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[0]]),
                                         [4]),
    "nomination already in the gala": (
        csv_bytes([row("Łódź", "https://www.tiktok.com/@lodz", "tiktok-roku",
                       platform="tiktok")]), [2]),
    "same url, different details": (
        csv_bytes([GOOD_ROWS[0], row("Wojkowice INNE", "https://www.facebook.com/wojkowice",
                                     "wideo-w-metropolii")]), [3]),
    "missing name": (csv_bytes([row("", "https://facebook.com/tychy")]), [2]),
    "bad unit type": (csv_bytes([row("Tychy", "https://facebook.com/tychy",
                                     unit_type="wieś")]), [2]),
    "citation too long": (csv_bytes([row("Tychy", "https://facebook.com/tychy", "tiktok-roku",
                                         "c" * 501)]), [2]),
    "control character": (csv_bytes([row("Ty\u202echy", "https://facebook.com/tychy")]), [2]),
    "column given twice": (csv_bytes([(*r, r[0]) for r in GOOD_ROWS], header=(*HEADER, "name")),
                           [1]),
    "more cells than columns": (csv_bytes([GOOD_ROWS[0], (*GOOD_ROWS[1], "Warszawa")]), [3]),
    "unclosed quote": (csv_bytes([GOOD_ROWS[0]]) + b'"Tychy,Miasto Tychy\r\n', [3]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_import_csv_bad_file_rejected_whole_with_row_numbers(ctx, small_gala, case):
    raw, expected_rows = BAD_FILES[case]
    before = counts()
    state = profile_state(small_gala["gala"])
    assert rejected_rows(transfer.import_profiles_csv, ACTOR, small_gala["gala"], raw) == (
        expected_rows)
    assert counts() == before
    assert profile_state(small_gala["gala"]) == state


def test_import_csv_every_bad_row_is_listed(ctx, small_gala):
    raw = csv_bytes([
        row("Dobry", "https://facebook.com/dobry", "tiktok-roku"),       # 2: fine
        row("Zły adres", "https://facebook.com.evil.com"),               # 3
        row("Dobry 2", "https://facebook.com/dobry2"),                    # 4: fine
        row("Zła kategoria", "https://facebook.com/zla", "nie-ma"),      # 5
        row("", "https://facebook.com/bez-nazwy"),                       # 6
    ])
    before = counts()
    with pytest.raises(ImportRejectedError) as caught:
        transfer.import_profiles_csv(ACTOR, small_gala["gala"], raw)
    assert [number for number, _ in caught.value.rows] == [3, 5, 6]
    reasons = dict(caught.value.rows)
    assert "url" in reasons[3]
    assert "nie-ma" in reasons[5]
    assert "name" in reasons[6]
    assert counts() == before


def test_import_csv_too_many_rows_rejected(ctx, small_gala):
    rows = [row(f"Profil {n}", f"https://facebook.com/p{n}") for n in
            range(transfer.MAX_IMPORT_ROWS + 1)]
    before = counts()
    with pytest.raises(ImportRejectedError):
        transfer.import_profiles_csv(ACTOR, small_gala["gala"], csv_bytes(rows))
    assert counts() == before


def test_import_csv_into_a_locked_gala_refused(ctx, small_gala):
    services.open_voting(ACTOR, small_gala["gala"])
    before = counts()
    with pytest.raises(LockedError):
        transfer.import_profiles_csv(ACTOR, small_gala["gala"], csv_bytes(GOOD_ROWS))
    assert counts() == before


# --- CSV export ----------------------------------------------------------------------------


def test_export_csv_one_row_per_nomination(ctx, small_gala):
    rows = exported_rows(db.session.get(Gala, small_gala["gala"]))
    assert tuple(rows[0]) == HEADER
    body = rows[1:]
    assert len(body) == 4  # Łódź 1, Wrocław 2, Gdańsk 1
    by_url: dict[str, list[tuple[str, str]]] = {}
    for cells in body:
        assert len(cells) == len(HEADER)
        by_url.setdefault(cells[6], []).append((cells[8], cells[9]))
    assert by_url == {
        "https://www.tiktok.com/@lodz": [("tiktok-roku", "za serię o włókniarkach")],
        "https://www.facebook.com/wroclaw": [("tiktok-roku", ""), ("wideo-w-metropolii", "")],
        "https://www.youtube.com/@gdansk": [("wideo-w-metropolii", "")],
    }


def test_export_csv_profile_without_nomination_has_one_row(ctx, small_gala):
    services.create_profile(ACTOR, small_gala["gala"], {
        "name": "Tychy", "unit_name": "Miasto Tychy", "unit_type": "miasto",
        "platform": "facebook", "url": "https://facebook.com/tychy"})
    rows = [r for r in exported_rows(db.session.get(Gala, small_gala["gala"]))
            if r[6] == "https://facebook.com/tychy"]
    assert rows == [["Tychy", "Miasto Tychy", "miasto", "", "facebook", "",
                     "https://facebook.com/tychy", "", "", ""]]


FORMULAS = {
    "name": "=HYPERLINK(\"https://evil.example\",\"Kliknij\")",
    "unit_name": "+48 Gmina",
    "handle": "@gmina",
    "description": "-1+1 i =SUMA(A1:A9)",
}


@pytest.fixture
def formula_gala(ctx: Flask, small_gala: dict[str, int]) -> dict[str, int]:
    profile = services.create_profile(ACTOR, small_gala["gala"], {
        **FORMULAS, "unit_type": "gmina", "platform": "facebook",
        "url": "https://facebook.com/formula"})
    services.nominate(ACTOR, small_gala["single"], profile.id, "=1+1")
    return {**small_gala, "formula": profile.id}


def test_export_csv_neutralises_formulas(formula_gala):
    rows = exported_rows(db.session.get(Gala, formula_gala["gala"]))
    (cells,) = [r for r in rows if r[6] == "https://facebook.com/formula"]
    assert cells[0] == "'=HYPERLINK(\"https://evil.example\",\"Kliknij\")"
    assert cells[1] == "'+48 Gmina"
    assert cells[5] == "'@gmina"
    assert cells[7] == "'-1+1 i =SUMA(A1:A9)"
    assert cells[9] == "'=1+1"
    # nothing in the whole file can start a formula
    for cells in rows:
        for cell in cells:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(("value", "safe"), [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("Wrocław", "Wrocław"), ("", ""), (None, ""),
    ("a=1", "a=1"), (42, "42"),
    # an apostrophe the value itself starts with is doubled only where import would eat it
    ("'=1", "''=1"), ("''", "'" * 3), ("'zwykły", "'zwykły"), ("'", "'"),
])
def test_neutralise_cell(value: object, safe: str):
    assert transfer.neutralise_cell(value) == safe


def fresh_gala_like_small(year: int = 2027) -> int:
    gala = services.create_gala(ACTOR, {"name": f"Gala {year}", "date": f"{year}-11-28"})
    services.create_category(ACTOR, gala.id, {"name_pl": "TikTok roku", "method": "single",
                                              "weights": {"audience": 100}})
    services.create_category(ACTOR, gala.id, {"name_pl": "Wideo w metropolii",
                                              "method": "single", "weights": {"jury": 100}})
    return gala.id


def test_export_import_csv_round_trip_reproduces_profiles(formula_gala):
    services.create_profile(ACTOR, formula_gala["gala"], {
        "name": "Bez nominacji", "unit_name": "Powiat Tarnogórski", "unit_type": "powiat",
        "platform": "website", "url": "https://tarnogorski.pl/",
        "description": "Wiersz pierwszy\nwiersz drugi, z przecinkiem; i średnikiem \"cytat\""})
    original = profile_state(formula_gala["gala"])
    exported = transfer.export_profiles_csv(db.session.get(Gala, formula_gala["gala"]))
    target = fresh_gala_like_small()
    summary = transfer.import_profiles_csv(ACTOR, target, exported.encode("utf-8"))
    assert summary == {"profiles": 5, "nominations": 5}
    assert profile_state(target) == original


def test_export_import_csv_round_trip_keeps_a_leading_apostrophe(ctx, small_gala):
    """A value that itself starts with an apostrophe and a formula sign survives the trip."""
    services.create_profile(ACTOR, small_gala["gala"], {
        "name": "'=nie formuła", "unit_name": "'+48", "unit_type": "gmina",
        "platform": "facebook", "url": "https://facebook.com/apostrof",
        "description": "'zwykły cudzysłów"})
    original = profile_state(small_gala["gala"])
    exported = transfer.export_profiles_csv(db.session.get(Gala, small_gala["gala"]))
    target = fresh_gala_like_small()
    transfer.import_profiles_csv(ACTOR, target, exported.encode("utf-8"))
    assert profile_state(target) == original


# --- JSON: a whole gala --------------------------------------------------------------------


def without_gala(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "gala"}


def moved_to(doc: dict[str, Any], year: int) -> dict[str, Any]:
    moved = copy.deepcopy(doc)
    moved["gala"] = {**moved["gala"], "name": f"Gala przeniesiona {year}",
                     "date": f"{year}-10-10"}
    return moved


def add_image(gala_id: int, url: str, image: bytes) -> None:
    profile = db.session.scalar(select(Profile).where(Profile.gala_id == gala_id,
                                                      Profile.url == url))
    data = {name: getattr(profile, name) for name in (
        "name", "unit_name", "unit_type", "voivodeship", "platform", "handle", "url",
        "description")}
    services.update_profile(ACTOR, profile.id, data, image=image)


def test_export_gala_describes_categories_profiles_and_nominations(ctx, demo_gala):
    doc = transfer.export_gala(db.session.get(Gala, demo_gala))
    source = demo_document()
    assert (doc["format"], doc["version"]) == ("zlote-lajki.gala", 1)
    assert doc["gala"] == source["gala"]
    assert [c["slug"] for c in doc["categories"]] == [c["slug"] for c in source["categories"]]
    for exported, original in zip(doc["categories"], source["categories"], strict=True):
        assert exported["method"] == original["method"]
        assert exported["weights"] == original["weights"]
        for key, value in original.get("params", {}).items():
            assert exported["params"][key] == value
        keys = {p["key"]: p["url"] for p in doc["profiles"]}
        source_keys = {p["key"]: p["url"] for p in source["profiles"]}
        assert sorted(keys[n["profile"]] for n in exported["nominations"]) == sorted(
            source_keys[n["profile"]] for n in original["nominations"])
    assert sorted(p["url"] for p in doc["profiles"]) == sorted(
        p["url"] for p in source["profiles"])


def test_export_import_gala_into_another_year_reproduces_it_exactly(ctx, demo_gala):
    gala = db.session.get(Gala, demo_gala)
    first_url = gala.profiles[0].url
    add_image(demo_gala, first_url, PNG)
    original = transfer.export_gala(db.session.get(Gala, demo_gala))
    assert any("image" in p for p in original["profiles"])
    before = counts()

    copy_gala = transfer.import_gala(ACTOR, moved_to(original, 2030))
    assert (copy_gala.year, copy_gala.name) == (2030, "Gala przeniesiona 2030")
    again = transfer.export_gala(db.session.get(Gala, copy_gala.id))
    assert without_gala(again) == without_gala(original)
    assert again["gala"]["date"] == "2030-10-10"
    after = counts()
    assert after["Gala"] == before["Gala"] + 1
    assert after["Profile"] == 2 * before["Profile"]
    assert after["Nomination"] == 2 * before["Nomination"]
    assert after["Category"] == 2 * before["Category"]
    # the copy's image is the same bytes, served as a new image
    copied = db.session.scalar(select(Profile).where(Profile.gala_id == copy_gala.id,
                                                     Profile.url == first_url))
    assert (copied.image_data, copied.image_type, copied.image_version) == (
        PNG, "image/png", 1)
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.action, entry.gala_id) == ("import.gala", copy_gala.id)


def test_export_gala_without_images(ctx, demo_gala):
    add_image(demo_gala, db.session.get(Gala, demo_gala).profiles[0].url, PNG)
    doc = transfer.export_gala(db.session.get(Gala, demo_gala), include_images=False)
    assert not any("image" in p for p in doc["profiles"])


def test_export_import_gala_every_method_round_trips(ctx, small_gala):
    gala_id = small_gala["gala"]
    for data in (
        {"name_pl": "Oceny", "method": "score", "score_min": 0, "score_max": 5,
         "min_scores": 4, "weights": {"jury": 100}},
        {"name_pl": "Akceptacja", "method": "approval", "max_choices": 2,
         "weights": {"jury": 25, "audience": 75}},
        {"name_pl": "Akceptacja bez limitu", "method": "approval", "weights": {"audience": 1}},
        {"name_pl": "Dogrywka", "method": "irv", "places": 4, "weights": {"jury": 100},
         "description_pl": "Opis\nw dwóch wierszach", "name_en": "Runoff"},
    ):
        category = services.create_category(ACTOR, gala_id, data)
        services.nominate(ACTOR, category.id, small_gala["lodz"], "za „cudzysłowy”")
    original = transfer.export_gala(db.session.get(Gala, gala_id))
    copy_gala = transfer.import_gala(ACTOR, moved_to(original, 2031))
    again = transfer.export_gala(db.session.get(Gala, copy_gala.id))
    assert without_gala(again) == without_gala(original)
    params = {c["slug"]: (c["params"], c["weights"]) for c in again["categories"]}
    assert params["oceny"] == ({"min": 0, "max": 5, "min_scores": 4}, {"jury": 100})
    assert params["akceptacja"] == ({"max_choices": 2}, {"jury": 25, "audience": 75})
    assert params["akceptacja-bez-limitu"] == ({"max_choices": None}, {"audience": 100})
    assert params["dogrywka"] == ({"places": 4}, {"jury": 100})
    assert params["wideo-w-metropolii"] == ({"places": 2, "points": [3, 1]}, {"jury": 100})


def test_export_import_gala_into_a_fresh_database(app, demo_gala, other_app):
    with app.app_context():
        add_image(demo_gala, db.session.get(Gala, demo_gala).profiles[-1].url, PNG)
        original = transfer.export_gala(db.session.get(Gala, demo_gala))
    with other_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Gala)) == 0
        gala = transfer.import_gala("other", original)
        again = transfer.export_gala(db.session.get(Gala, gala.id))
    assert again == original  # the same gala, name and date included


def test_import_gala_year_already_taken(ctx, demo_gala):
    before = counts()
    with pytest.raises(ImportRejectedError) as caught:
        transfer.import_gala(ACTOR, demo_document())
    assert [number for number, _ in caught.value.rows] == [0]
    assert "2023" in caught.value.message
    assert counts() == before


def broken(mutate) -> dict[str, Any]:  # noqa: ANN001
    doc = demo_document()
    doc["gala"]["date"] = "2040-11-28"
    mutate(doc)
    return doc


def _set(path: tuple[Any, ...], value: Any):  # noqa: ANN202
    def mutate(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


BAD_DOCUMENTS = {
    "not an object": lambda: ["format", "zlote-lajki.gala"],
    "wrong format": lambda: broken(_set(("format",), "other-app.gala")),
    "no format": lambda: broken(lambda d: d.pop("format")),
    "wrong version": lambda: broken(_set(("version",), 2)),
    "version as text": lambda: broken(_set(("version",), "1")),
    "bad gala date": lambda: broken(_set(("gala", "date"), "28.11.2040")),
    "bad category method": lambda: broken(_set(("categories", 0, "method"), "borda")),
    "bad ranked points": lambda: broken(_set(("categories", 0, "params", "points"), [1, 2, 3])),
    "bad weights": lambda: broken(_set(("categories", 2, "weights"),
                                       {"jury": 70, "audience": 20})),
    "unknown profile key": lambda: broken(_set(("categories", 1, "nominations", 0, "profile"),
                                               "nie-ma-takiego")),
    "profile nominated twice": lambda: broken(lambda d: d["categories"][0]["nominations"].append(
        dict(d["categories"][0]["nominations"][0]))),
    "duplicate slug": lambda: broken(_set(("categories", 1, "slug"),
                                          demo_document()["categories"][0]["slug"])),
    "duplicate profile key": lambda: broken(_set(("profiles", 1, "key"),
                                                 demo_document()["profiles"][0]["key"])),
    "duplicate profile url": lambda: broken(_set(("profiles", 1, "url"),
                                                 demo_document()["profiles"][0]["url"])),
    "bad profile url": lambda: broken(_set(("profiles", 0, "url"),
                                           "https://facebook.com.evil.com")),
    "bad image base64": lambda: broken(_set(("profiles", 0, "image"),
                                            {"type": "image/png", "base64": "to nie base64!"})),
    "image not an image": lambda: broken(_set(("profiles", 0, "image"), {
        "type": "image/png", "base64": base64.b64encode(b"GIF89a....").decode()})),
    "profiles not a list": lambda: broken(_set(("profiles",), {"p1": {}})),
    "category not an object": lambda: broken(lambda d: d["categories"].append("kategoria")),
}


@pytest.mark.parametrize("case", list(BAD_DOCUMENTS))
def test_import_gala_invalid_document_rejected_and_nothing_written(ctx, small_gala, case):
    before = counts()
    with pytest.raises(ImportRejectedError) as caught:
        transfer.import_gala(ACTOR, BAD_DOCUMENTS[case]())
    assert caught.value.rows
    assert counts() == before


def test_import_gala_lists_every_problem(ctx):
    def mutate(doc: dict[str, Any]) -> None:
        doc["profiles"][2]["image"] = {"type": "image/png", "base64": "###"}
        doc["categories"][1]["method"] = "borda"
        doc["categories"][3]["nominations"][0]["profile"] = "nie-ma-takiego"
        doc["categories"][5]["slug"] = doc["categories"][4]["slug"]

    with pytest.raises(ImportRejectedError) as caught:
        transfer.import_gala(ACTOR, broken(mutate))
    problems = caught.value.rows
    text_of = " | ".join(reason for _, reason in problems)
    assert len(problems) == 4, problems
    assert "profiles[3].image" in text_of
    assert "categories[2]" in text_of and "method" in text_of
    assert "categories[4]" in text_of and "nie-ma-takiego" in text_of
    assert "categories[6]" in text_of
    assert sorted(number for number, _ in problems) == [2, 3, 4, 6]
    assert counts() == {name: 0 for name in counts()}
