"""Moving gala data in and out: CSV of profiles with nominations, JSON of a whole gala.

Imports are all or nothing: every row is checked first and the first write happens only when
no row has a problem; then everything is written in one transaction.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import audit
from .database import write_transaction
from .errors import ImportRejectedError, ValidationError
from .extensions import db
from .models import Category, CategoryGroup, Gala, Nomination, Profile
from .queries import audit_entries_in_order, categories_with_nominees, profiles_of
from .services import ensure_unlocked, get_existing
from .validation import (
    check_image,
    clean_category,
    clean_citation,
    clean_gala,
    clean_profile,
    normalise_text,
)

GALA_FORMAT = "zlote-lajki.gala"
GALA_FORMAT_VERSION = 1

CSV_COLUMNS = ("name", "unit_name", "unit_type", "voivodeship", "platform", "handle", "url",
               "description", "category", "citation")
# Organizers often keep their lists with Polish headers; both spellings are understood.
CSV_HEADER_ALIASES = {
    "nazwa": "name", "nazwa profilu": "name", "profil": "name",
    "jednostka": "unit_name", "samorząd": "unit_name", "unit": "unit_name",
    "typ jednostki": "unit_type", "typ": "unit_type", "rodzaj jednostki": "unit_type",
    "województwo": "voivodeship", "wojewodztwo": "voivodeship",
    "platforma": "platform", "konto": "handle", "uchwyt": "handle",
    "adres": "url", "link": "url", "opis": "description",
    "kategoria": "category", "uzasadnienie": "citation", "cytat": "citation",
}
# A spreadsheet treats a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_IMPORT_ROWS = 5000


# After a leading apostrophe, these mark a cell that `neutralise_cell` escaped.
_ESCAPED_AFTER_APOSTROPHE = (*FORMULA_PREFIXES, "'")


def neutralise_cell(value: Any) -> str:
    """Make a cell safe for a spreadsheet: a would-be formula is exported as text.

    A value that already starts with an apostrophe and one of those signs gets one more
    apostrophe, so that `_restore_cell` gives back exactly what was exported.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES) or (
            text.startswith("'") and text[1:2] and text[1:2] in _ESCAPED_AFTER_APOSTROPHE):
        return "'" + text
    return text


def _restore_cell(value: str) -> str:
    """Undo `neutralise_cell`, so an exported file imports back unchanged."""
    if value.startswith("'") and value[1:2] and value[1:2] in _ESCAPED_AFTER_APOSTROPHE:
        return value[1:]
    return value


# --- CSV ---------------------------------------------------------------------------------


def _csv_text(header: Iterable[str], rows: Iterable[list[Any]]) -> str:
    """CSV for spreadsheets: UTF-8 with a BOM (so Excel reads it as such), formulas
    neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([neutralise_cell(cell) for cell in row] for row in rows)
    return "\ufeff" + out.getvalue()


def export_profiles_csv(gala: Gala) -> str:
    """One row per nomination (and one per profile not yet nominated), formulas neutralised."""
    rows = []
    for profile in profiles_of(gala):
        base = [profile.name, profile.unit_name, profile.unit_type, profile.voivodeship or "",
                profile.platform, profile.handle, profile.url, profile.description]
        nominations = sorted(profile.nominations, key=lambda n: (n.category.position, n.id))
        for nomination in nominations or [None]:
            extra = [nomination.category.slug, nomination.citation] if nomination else ["", ""]
            rows.append(base + extra)
    return _csv_text(CSV_COLUMNS, rows)


def _decode_csv(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        message = _l("The file is not UTF-8 text. In Excel choose “CSV UTF-8 (comma delimited)” "
                     "when saving.")
        raise ImportRejectedError(str(message), [(0, str(message))]) from error


def _read_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        message = _l("The file is empty.")
        raise ImportRejectedError(str(message), [(0, str(message))]) from None
    except csv.Error:
        raise ImportRejectedError(str(_CSV_BROKEN), [(1, str(_CSV_BROKEN))]) from None
    columns = []
    for cell in header:
        key = normalise_text(cell).lower().replace("_", " ")  # NFC: "Województwo" from a Mac
        key = CSV_HEADER_ALIASES.get(key, key.replace(" ", "_"))
        columns.append(key)
    unknown = [c for c in columns if c and c not in CSV_COLUMNS]
    missing = [c for c in ("name", "unit_name", "unit_type", "platform", "url") if c not in columns]
    doubled = sorted({c for c in columns if c and columns.count(c) > 1})
    if unknown or missing or doubled:
        problems = []
        if doubled:
            problems.append((1, str(_l("Columns given twice: %(cols)s.", cols=", ".join(doubled)))))
        if missing:
            problems.append((1, str(_l("Missing columns: %(cols)s.", cols=", ".join(missing)))))
        if unknown:
            problems.append((1, str(_l("Unknown columns: %(cols)s. Expected: %(expected)s.",
                                       cols=", ".join(unknown),
                                       expected=", ".join(CSV_COLUMNS)))))
        raise ImportRejectedError(str(_l("The header row is not right.")), problems)
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                rows.append({})
                continue
            row = {col: _restore_cell(cell) for col, cell in zip(columns, cells, strict=False)
                   if col}
            if any(cell.strip() for cell in cells[len(columns):]):
                row[_ROW_PROBLEM] = str(_l("This row has more cells than the header has columns "
                                           "(a separator inside a value needs quotes)."))
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise ImportRejectedError(
                    str(_l("Too many rows: at most %(n)d.", n=MAX_IMPORT_ROWS)),
                    [(len(rows) + 1, str(_l("Too many rows: at most %(n)d.", n=MAX_IMPORT_ROWS)))])
    except csv.Error:
        raise ImportRejectedError(str(_CSV_BROKEN), [(reader.line_num, str(_CSV_BROKEN))]) from None
    return columns, rows


_ROW_PROBLEM = "__problem__"
_CSV_BROKEN = _l("The file is not valid CSV: a quotation mark is not closed or a cell is far "
                 "too long.")


def _field_problems(error: ValidationError) -> str:
    problems = "; ".join(f"{field}: {reason}" for field, reason in error.errors.items())
    return problems or error.message


def import_profiles_csv(actor: str, gala_id: int, raw: bytes) -> dict[str, int]:
    """Import profiles with their nominations from CSV; all or nothing.

    Rows with the same URL are one profile; a URL already in the gala nominates that existing
    profile. Raises ImportRejectedError listing every problem by row (row 1 is the header).
    """
    _, rows = _read_rows(_decode_csv(raw))
    gala = get_existing(Gala, gala_id)
    ensure_unlocked(gala)
    categories = {c.slug: c for c in categories_with_nominees(gala)}
    existing = {p.url: p for p in profiles_of(gala)}
    problems: list[tuple[int, str]] = []
    planned: dict[str, dict[str, Any]] = {}
    planned_nominations: list[tuple[str, Category, str, int]] = []
    seen_pairs: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=2):
        if not row:
            continue
        if _ROW_PROBLEM in row:
            problems.append((number, row[_ROW_PROBLEM]))
            continue
        try:
            clean = clean_profile(row)
        except ValidationError as error:
            problems.append((number, _field_problems(error)))
            continue
        url = clean["url"]
        if url in planned and _comparable(planned[url]) != _comparable(clean):
            problems.append((number, str(_l("The same address appears with different profile "
                                            "details than in an earlier row."))))
            continue
        if url not in existing:
            planned.setdefault(url, clean)
        slug = (row.get("category") or "").strip().lower()
        if not slug:
            continue
        category = categories.get(slug)
        if category is None:
            problems.append((number, str(_l("No category with the address “%(slug)s”. "
                                            "Known: %(known)s.", slug=slug,
                                            known=", ".join(categories) or "—"))))
            continue
        try:
            citation = clean_citation(row.get("citation"))
        except ValidationError as error:
            problems.append((number, _field_problems(error)))
            continue
        if (url, slug) in seen_pairs or (
            url in existing and any(n.category_id == category.id
                                    for n in existing[url].nominations)):
            problems.append((number, str(_l("%(name)s is already nominated in “%(slug)s”.",
                                            name=clean["name"], slug=slug))))
            continue
        seen_pairs.add((url, slug))
        planned_nominations.append((url, category, citation, number))
    if not any(rows):
        problems.append((2, str(_l("The file has a header but no rows."))))
    if problems:
        raise ImportRejectedError(
            str(_l("Nothing was imported: %(n)d rows have problems.", n=len(problems))), problems)

    with write_transaction() as session:
        gala = get_existing(Gala, gala_id)
        ensure_unlocked(gala)
        profiles = {url: p for url, p in existing.items()}
        for url, clean in planned.items():
            profiles[url] = Profile(gala=gala, **clean)
            session.add(profiles[url])
        for url, category, citation, _number in planned_nominations:
            session.add(Nomination(category_id=category.id, profile=profiles[url],
                                   citation=citation))
        try:
            session.flush()
        except Exception as error:  # a concurrent edit took an address or a nomination
            raise ImportRejectedError(str(_l("The gala changed during the import; try again.")),
                                      [(0, str(_l("The gala changed during the import; "
                                                  "try again.")))]) from error
        summary = {"profiles": len(planned), "nominations": len(planned_nominations)}
        audit.record(actor, "import.csv", gala_id=gala.id, subject=gala.name, details=summary)
    return summary


def _comparable(clean: dict[str, Any]) -> tuple:
    return tuple(sorted((k, v) for k, v in clean.items() if k != "is_demo"))


# --- JSON: a whole gala ------------------------------------------------------------------


def export_gala(gala: Gala, *, include_images: bool = True) -> dict[str, Any]:
    """The gala's full definition: categories with their award, method and result settings
    (a decision of the chapter has no params and no weights), profiles, nominations.

    Documents written before award, ex_aequo and public_figures existed still import: a
    Golden Like, no ex aequo, figures not public."""
    profiles = profiles_of(gala)
    keys = {profile.id: f"p{index}" for index, profile in enumerate(profiles, start=1)}
    profile_docs = []
    for profile in profiles:
        doc = {
            "key": keys[profile.id], "name": profile.name, "unit_name": profile.unit_name,
            "unit_type": profile.unit_type, "voivodeship": profile.voivodeship,
            "platform": profile.platform, "handle": profile.handle, "url": profile.url,
            "description": profile.description, "is_demo": profile.is_demo,
        }
        if include_images and profile.image_type:
            doc["image"] = {"type": profile.image_type,
                            "base64": base64.b64encode(profile.image_data or b"").decode()}
        profile_docs.append(doc)
    return {
        "format": GALA_FORMAT,
        "version": GALA_FORMAT_VERSION,
        "gala": {"name": gala.name, "date": gala.date.isoformat(), "venue": gala.venue,
                 "closes_at": gala.closes_at.isoformat() if gala.closes_at else None},
        "profiles": profile_docs,
        "categories": [
            {
                "slug": c.slug, "name_pl": c.name_pl, "name_en": c.name_en,
                "description_pl": c.description_pl, "description_en": c.description_en,
                "award": c.award, "method": c.method, "params": c.params(),
                "weights": c.weights(), "ex_aequo": c.ex_aequo,
                "public_figures": c.public_figures,
                "nominations": [{"profile": keys[n.profile_id], "citation": n.citation}
                                for n in c.sorted_nominations()],
            }
            for c in categories_with_nominees(gala)
        ],
    }


_PARAM_FIELDS = {"places": "places", "points": "points", "min": "score_min",
                 "max": "score_max", "min_scores": "min_scores", "max_choices": "max_choices"}


def _as_list(value: Any, where: str, problems: list[tuple[int, str]]) -> list:
    if not isinstance(value, list):
        problems.append((0, f"{where}: " + str(_l("expected a list."))))
        return []
    return value


def check_gala_document(doc: Any, max_image_bytes: int) -> tuple[dict, list, list]:
    """Validate a gala document completely; returns the cleaned parts or raises with all
    problems (numbered by position: profile 1, 2, ... and category 1, 2, ...)."""
    problems: list[tuple[int, str]] = []
    if not isinstance(doc, dict) or doc.get("format") != GALA_FORMAT:
        raise ImportRejectedError(str(_l("This is not a Złote Lajki gala file.")),
                                  [(0, str(_l("This is not a Złote Lajki gala file.")))])
    if doc.get("version") != GALA_FORMAT_VERSION:
        message = str(_l("Unsupported gala file version: %(v)s.", v=doc.get("version")))
        raise ImportRejectedError(message, [(0, message)])
    gala_clean: dict = {}
    try:
        gala_clean = clean_gala(doc.get("gala") if isinstance(doc.get("gala"), dict) else {})
    except ValidationError as error:
        problems.append((0, "gala: " + _field_problems(error)))
    profiles: list[tuple[str, dict, bytes | None, str | None]] = []
    keys: set[str] = set()
    urls: set[str] = set()
    for index, item in enumerate(_as_list(doc.get("profiles"), "profiles", problems), start=1):
        where = f"profiles[{index}]"
        if not isinstance(item, dict):
            problems.append((index, f"{where}: " + str(_l("expected an object."))))
            continue
        key = str(item.get("key") or "")
        if not key or key in keys:
            problems.append((index, f"{where}: " + str(_l("each profile needs a unique key."))))
        keys.add(key)
        try:
            clean = clean_profile(item)
        except ValidationError as error:
            problems.append((index, f"{where}: " + _field_problems(error)))
            continue
        if clean["url"] in urls:
            problems.append((index, f"{where}: " + str(_URL_DUPLICATE)))
        urls.add(clean["url"])
        image, image_type = None, None
        if isinstance(item.get("image"), dict):
            try:
                image = base64.b64decode(str(item["image"].get("base64", "")), validate=True)
                image_type = check_image(image, max_image_bytes)
            except (ValueError, ValidationError) as error:
                problems.append((index, f"{where}.image: {getattr(error, 'message', error)}"))
        profiles.append((key, clean, image, image_type))
    categories: list[tuple[dict, list[tuple[str, str]]]] = []
    slugs: set[str] = set()
    for index, item in enumerate(_as_list(doc.get("categories"), "categories", problems), start=1):
        where = f"categories[{index}]"
        if not isinstance(item, dict):
            problems.append((index, f"{where}: " + str(_l("expected an object."))))
            continue
        params = item.get("params") if isinstance(item.get("params"), dict) else {}
        data = {**item, **{_PARAM_FIELDS[k]: v for k, v in params.items() if k in _PARAM_FIELDS}}
        try:
            clean = clean_category(data)
        except ValidationError as error:
            problems.append((index, f"{where}: " + _field_problems(error)))
            continue
        if clean["slug"] in slugs:
            problems.append((index, f"{where}: " + str(_l("the address (slug) is used twice."))))
        slugs.add(clean["slug"])
        nominations = []
        nominated: set[str] = set()
        for nomination in _as_list(item.get("nominations", []), f"{where}.nominations", problems):
            ref = str(nomination.get("profile")) if isinstance(nomination, dict) else ""
            if ref not in keys:
                problems.append((index, f"{where}: " + str(_l("unknown profile key “%(key)s”.",
                                                              key=ref))))
                continue
            if ref in nominated:
                problems.append((index, f"{where}: " + str(_l("profile “%(key)s” is nominated "
                                                              "twice.", key=ref))))
                continue
            nominated.add(ref)
            try:
                citation = clean_citation(nomination.get("citation"))
            except ValidationError as error:
                problems.append((index, f"{where}: " + _field_problems(error)))
                continue
            nominations.append((ref, citation))
        categories.append((clean, nominations))
    if problems:
        raise ImportRejectedError(
            str(_l("Nothing was imported: the gala file has %(n)d problems.", n=len(problems))),
            problems)
    return gala_clean, profiles, categories


_URL_DUPLICATE = _l("the same profile address appears twice.")


def import_gala(actor: str, doc: Any, *, max_image_bytes: int = 2 * 1024 * 1024) -> Gala:
    """Create a gala from its definition; all or nothing. The year must still be free."""
    gala_clean, profiles, categories = check_gala_document(doc, max_image_bytes)
    with write_transaction() as session:
        year = gala_clean["date"].year
        if session.scalar(select(Gala.id).where(Gala.year == year)) is not None:
            message = str(_l("There is already a gala in %(year)d.", year=year))
            raise ImportRejectedError(message, [(0, message)])
        gala = Gala(year=year, **gala_clean)
        session.add(gala)
        by_key: dict[str, Profile] = {}
        for key, clean, image, image_type in profiles:
            profile = Profile(gala=gala, **clean)
            if image:
                profile.image_data, profile.image_type, profile.image_version = image, image_type, 1
            by_key[key] = profile
            session.add(profile)
        for position, (clean, nominations) in enumerate(categories, start=1):
            values = {k: v for k, v in clean.items() if k != "weights"}
            category = Category(gala=gala, position=position, **values)
            category.groups = [CategoryGroup(group=g, weight=w)
                               for g, w in clean["weights"].items()]
            category.nominations = [Nomination(profile=by_key[ref], citation=citation)
                                    for ref, citation in nominations]
            session.add(category)
        session.flush()
        audit.record(actor, "import.gala", gala_id=gala.id, subject=gala.name,
                     details={"profiles": len(profiles), "categories": len(categories)})
    return gala


def gala_json(gala: Gala) -> str:
    return json.dumps(export_gala(gala), ensure_ascii=False, indent=2) + "\n"


def find_gala(name_or_year: str | None) -> Gala | None:
    if not name_or_year:
        return Gala.current()
    if name_or_year.isdigit():
        return db.session.scalar(select(Gala).where(Gala.year == int(name_or_year)))
    return db.session.scalar(select(Gala).where(Gala.name == name_or_year))


AUDIT_COLUMNS = ("seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash")


def _audit_rows() -> list[list[str]]:
    return [[str(e.seq), e.at.isoformat(), e.actor, e.action, e.subject, e.details_json,
             e.prev_hash, e.hash] for e in audit_entries_in_order()]


def audit_csv() -> str:
    """The whole audit trail, oldest first, safe to open in a spreadsheet."""
    return _csv_text(AUDIT_COLUMNS, _audit_rows())


def audit_json() -> str:
    """The whole audit trail, oldest first; anyone can recompute the chain from it."""
    entries = [dict(zip(AUDIT_COLUMNS, row, strict=True)) for row in _audit_rows()]
    return json.dumps(entries, ensure_ascii=False, indent=1) + "\n"
