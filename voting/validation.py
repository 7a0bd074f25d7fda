"""Rules for what an organizer may enter, shared by the admin forms, the CSV and JSON imports.

Every check reports per field, in the organizer's language, and normalises what it accepts:
text is NFC (so "Łódź" typed on any keyboard is one and the same "Łódź"), URLs are checked
against their platform's host.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l

from .errors import ValidationError
from .models import AWARDS, METHODS, PLATFORMS, UNIT_TYPES, VOIVODESHIPS, VOTER_GROUPS

PLATFORM_HOSTS: dict[str, tuple[str, ...] | None] = {
    "facebook": ("facebook.com", "fb.com"),
    "instagram": ("instagram.com",),
    "tiktok": ("tiktok.com",),
    "youtube": ("youtube.com", "youtu.be"),
    "linkedin": ("linkedin.com",),
    "x": ("x.com", "twitter.com"),
    "threads": ("threads.net", "threads.com"),
    "bluesky": ("bsky.app",),
    "website": None,
    "other": None,
}

PLATFORM_ALIASES = {"twitter": "x", "fb": "facebook", "yt": "youtube", "ig": "instagram",
                    "www": "website", "strona": "website", "inna": "other", "inne": "other"}
UNIT_TYPE_ALIASES = {"województwo": "wojewodztwo", "inna": "other", "inne": "other",
                     "miasto na prawach powiatu": "miasto", "city": "miasto",
                     "commune": "gmina", "county": "powiat", "region": "wojewodztwo",
                     "voivodeship": "wojewodztwo"}

NAME_MAX = 200
SHORT_MAX = 100
TEXT_MAX = 2000
CITATION_MAX = 500
URL_MAX = 500
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# C0 and C1 controls, zero-width and bidirectional marks, line/paragraph separators and the
# BOM / word joiners: all invisible, and all able to make two equal-looking names differ.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029"
                      r"\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

_TRANSLIT = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "ß": "ss", "æ": "ae"})


def normalise_text(value: Any) -> str:
    """NFC, trimmed, with Windows line ends made plain."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def slugify(value: str) -> str:
    ascii_text = (
        unicodedata.normalize("NFKD", normalise_text(value).translate(_TRANSLIT))
        .encode("ascii", "ignore")
        .decode("ascii")
        .lower()
    )
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:80].strip("-")


def _fold(value: str) -> str:
    return normalise_text(value).casefold()


_YES = ("true", "1", "yes", "y", "on", "tak")
_NO = ("false", "0", "no", "n", "off", "nie")


class Fields:
    """Reads raw input field by field, collecting every problem before raising once."""

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: Any) -> None:
        self.errors.setdefault(name, message)

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, max_len: int, *, required: bool = True,
             multiline: bool = False) -> str:
        value = normalise_text(self.raw(name))
        if not multiline and ("\n" in value or "\t" in value):
            self.fail(name, _l("Use a single line here."))
        elif _CONTROL.search(value):
            self.fail(name, _l("Contains invisible control characters; please retype it."))
        elif required and not value:
            self.fail(name, _l("This field is required."))
        elif len(value) > max_len:
            self.fail(name, _l("Too long: at most %(max)d characters (now %(len)d).",
                               max=max_len, len=len(value)))
        return value

    def choice(self, name: str, choices: Iterable[str], *, required: bool = True,
               aliases: Mapping[str, str] | None = None) -> str | None:
        value = _fold(self.raw(name) or "")
        if not value:
            if required:
                self.fail(name, _l("Choose a value."))
            return None
        value = (aliases or {}).get(value, value)
        choices = tuple(choices)
        if value not in choices:
            self.fail(name, _l("Not one of the allowed values: %(values)s.",
                               values=", ".join(choices)))
            return None
        return value

    def integer(self, name: str, low: int, high: int, *, required: bool = True,
                default: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required and default is None:
                self.fail(name, _l("Enter a whole number."))
            return default
        if isinstance(value, bool):
            self.fail(name, _l("Enter a whole number."))
            return None
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            self.fail(name, _l("Enter a whole number."))
            return None
        if not low <= number <= high:
            self.fail(name, _l("Must be between %(low)d and %(high)d.", low=low, high=high))
            return None
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        """A yes or no: a JSON boolean, a ticked checkbox, or "true"/"false" in words."""
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        word = _fold(str(value))
        if word in _YES:
            return True
        if word in _NO:
            return False
        self.fail(name, _l("Answer yes or no (true or false)."))
        return default

    def check(self) -> None:
        if self.errors:
            raise ValidationError(str(_l("Please correct the highlighted fields.")), self.errors)


def check_profile_url(url: str, platform: str | None) -> tuple[str, Any | None]:
    """Return the normalised URL and an error message (or None)."""
    candidate = normalise_text(url)
    if not candidate:
        return candidate, _l("This field is required.")
    if len(candidate) > URL_MAX:
        return candidate, _l("Too long: at most %(max)d characters (now %(len)d).",
                             max=URL_MAX, len=len(candidate))
    if re.search(r"\s", candidate) or _CONTROL.search(candidate):
        return candidate, _l("An address cannot contain spaces.")
    if "://" not in candidate:
        candidate = "https://" + candidate
    try:
        parts = urlsplit(candidate)
        host = (parts.hostname or "").rstrip(".")
        host = host.encode("idna").decode("ascii").lower() if host else ""
        port = parts.port
    except (ValueError, UnicodeError):
        return candidate, _l("This is not a valid web address.")
    if parts.scheme.lower() not in ("http", "https") or not host or "." not in host:
        return candidate, _l("Enter a full web address starting with https://.")
    if parts.username or parts.password:
        return candidate, _l("An address with a user name or password is not accepted.")
    allowed = PLATFORM_HOSTS.get(platform or "")
    if allowed and not any(host == h or host.endswith("." + h) for h in allowed):
        return candidate, _l("This address is not on %(platform)s (expected %(hosts)s).",
                             platform=platform_label(platform), hosts=", ".join(allowed))
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, "")), None


def platform_label(platform: str | None) -> str:
    return {
        "facebook": "Facebook", "instagram": "Instagram", "tiktok": "TikTok",
        "youtube": "YouTube", "linkedin": "LinkedIn", "x": "X", "threads": "Threads",
        "bluesky": "Bluesky", "website": str(_l("website")), "other": str(_l("other")),
    }.get(platform or "", platform or "")


def clean_profile(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a nominee profile. Keys: name, unit_name, unit_type, voivodeship, platform,
    handle, url, description (and is_demo)."""
    fields = Fields(data)
    clean: dict[str, Any] = {
        "name": fields.text("name", NAME_MAX),
        "unit_name": fields.text("unit_name", NAME_MAX),
        "unit_type": fields.choice("unit_type", UNIT_TYPES, aliases=UNIT_TYPE_ALIASES),
        "platform": fields.choice("platform", PLATFORMS, aliases=PLATFORM_ALIASES),
        "handle": fields.text("handle", SHORT_MAX, required=False),
        "description": fields.text("description", TEXT_MAX, required=False, multiline=True),
        "is_demo": bool(data.get("is_demo", False)),
    }
    voivodeship = _fold(data.get("voivodeship") or "")
    voivodeship = re.sub(r"^(województwo|woj\.?)\s+", "", voivodeship)
    if voivodeship and voivodeship not in VOIVODESHIPS:
        fields.fail("voivodeship", _l("Not a Polish voivodeship (e.g. dolnośląskie)."))
    clean["voivodeship"] = voivodeship or None
    url, problem = check_profile_url(data.get("url") or "", clean["platform"])
    if problem is not None:
        fields.fail("url", problem)
    clean["url"] = url
    fields.check()
    return clean


def parse_points(value: Any) -> list[int] | None:
    """Points per place from "12,10,8" or a list; None when empty. Raises ValueError."""
    if value is None or value == "" or value == []:
        return None
    items = value if isinstance(value, list | tuple) else re.split(r"[,;\s]+", str(value).strip())
    points = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError(item)
        points.append(int(str(item).strip()))
    return points


def clean_category(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a category and its method parameters and voter groups.

    Keys: name_pl, name_en, description_pl, description_en, slug, method, places, points,
    score_min, score_max, min_scores, max_choices, weights ({group: percent}), award (a
    Golden Like by default), ex_aequo, public_figures (only returned when given: the results
    page switches it, a category form never does).

    A balloted method needs at least one voter group. A decision of the chapter ("decision")
    is never on a ballot: it takes no voter groups and no method parameters.
    """
    fields = Fields(data)
    clean: dict[str, Any] = {
        "name_pl": fields.text("name_pl", NAME_MAX),
        "name_en": fields.text("name_en", NAME_MAX, required=False),
        "description_pl": fields.text("description_pl", TEXT_MAX, required=False,
                                      multiline=True),
        "description_en": fields.text("description_en", TEXT_MAX, required=False,
                                      multiline=True),
    }
    slug = normalise_text(data.get("slug") or "").lower() or slugify(clean["name_pl"])
    if not slug or not SLUG_RE.match(slug) or len(slug) > 80:
        fields.fail("slug", _l("Use lowercase letters, digits and hyphens (e.g. tiktok-roku)."))
    clean["slug"] = slug
    method = fields.choice("method", METHODS)
    clean["method"] = method
    clean["award"] = fields.choice("award", AWARDS, required=False) or "award"
    clean["ex_aequo"] = fields.boolean("ex_aequo")
    if "public_figures" in data:
        clean["public_figures"] = fields.boolean("public_figures")
    clean.update(places=None, points=None, score_min=None, score_max=None, min_scores=None,
                 max_choices=None)
    if method in ("ranked", "irv"):
        low = 2 if method == "irv" else 1
        places = fields.integer("places", low, 20, default=3)
        clean["places"] = places
        if method == "ranked" and places:
            try:
                points = parse_points(data.get("points"))
            except ValueError:
                fields.fail("points", _l("Points are whole numbers separated by commas."))
                points = None
            # No points: Borda over the places each ballot filled (k, k-1, ... 1 for k places
            # filled), which the tally applies; a fixed list would score a ballot that fills
            # 2 of 3 places 3, 2 instead of 2, 1.
            if points is not None:
                if len(points) != places:
                    fields.fail("points", _l("Give exactly %(n)d values, one per place.",
                                             n=places))
                elif any(p < 0 or p > 1000 for p in points) or points[0] <= 0:
                    fields.fail("points", _l("Points must be between 0 and 1000, "
                                             "and first place must score."))
                elif any(a < b for a, b in zip(points, points[1:], strict=False)):
                    fields.fail("points", _l("A better place cannot score fewer points."))
            clean["points"] = points
    elif method == "score":
        score_min = fields.integer("score_min", -100, 100, default=1)
        score_max = fields.integer("score_max", -100, 100, default=10)
        if score_min is not None and score_max is not None and score_min >= score_max:
            fields.fail("score_max", _l("The highest score must be above the lowest."))
        clean.update(score_min=score_min, score_max=score_max,
                     min_scores=fields.integer("min_scores", 0, 100000, default=1))
    elif method == "approval":
        clean["max_choices"] = fields.integer("max_choices", 1, 100, required=False)
    if method == "decision":
        if data.get("weights"):
            fields.fail("weights", _l("A decision of the chapter is not voted on: it has no "
                                      "voter groups."))
        clean["weights"] = {}
    else:
        clean["weights"] = _clean_weights(fields, data.get("weights"), method)
    fields.check()
    return clean


def _clean_weights(fields: Fields, weights: Any, method: str | None) -> dict[str, int]:
    if not isinstance(weights, Mapping):
        weights = {}
    chosen: dict[str, int] = {}
    for group, weight in weights.items():
        if group not in VOTER_GROUPS:
            fields.fail("weights", _l("Unknown voter group: %(group)s.", group=group))
            return {}
        try:
            chosen[group] = int(weight) if weight not in (None, "") else 0
        except (TypeError, ValueError, OverflowError):
            fields.fail("weights", _l("A weight is a whole number of percent."))
            return {}
    if not chosen:
        fields.fail("weights", _l("Choose at least one voter group."))
        return {}
    if len(chosen) == 1:
        return {group: 100 for group in chosen}
    if method == "irv":
        fields.fail("weights", _l("Instant runoff is decided by a single voter group."))
    elif any(w < 1 or w > 99 for w in chosen.values()) or sum(chosen.values()) != 100:
        fields.fail("weights", _l("With several groups, give each a weight between 1 and 99 "
                                  "percent, adding up to 100 percent."))
    return chosen


GALA_TIMEZONE = ZoneInfo("Europe/Warsaw")


def parse_local_datetime(value: Any) -> dt.datetime | None:
    """A wall-clock time at the gala (Europe/Warsaw) as an aware UTC datetime.

    Raises ValueError for text that is not a date and time.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime.fromisoformat(normalise_text(value))
    if not 2000 <= moment.year <= 2200:
        raise ValueError("out of range")
    if moment.tzinfo is None:
        local = moment.replace(tzinfo=GALA_TIMEZONE)
        # A wall-clock time skipped by the spring DST change does not exist in Warsaw.
        if local.astimezone(dt.UTC).astimezone(GALA_TIMEZONE).replace(tzinfo=None) != moment:
            raise ValueError("no such local time")
        moment = local
    return moment.astimezone(dt.UTC)


def clean_gala(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a gala edition: name, date (YYYY-MM-DD), venue, optional scheduled closing."""
    fields = Fields(data)
    clean: dict[str, Any] = {
        "name": fields.text("name", NAME_MAX),
        "venue": fields.text("venue", NAME_MAX, required=False),
    }
    raw_date = data.get("date")
    if isinstance(raw_date, dt.date):
        clean["date"] = raw_date
    else:
        try:
            clean["date"] = dt.date.fromisoformat(normalise_text(raw_date))
        except ValueError:
            fields.fail("date", _l("Enter a date as YYYY-MM-DD."))
            clean["date"] = None
    if clean["date"] is not None and not 2000 <= clean["date"].year <= 2200:
        fields.fail("date", _l("Enter a date between 2000 and 2200."))
    try:
        clean["closes_at"] = parse_local_datetime(data.get("closes_at"))
    except (ValueError, OverflowError):
        fields.fail("closes_at", _l("Enter a date and time, e.g. 2026-11-28 19:30."))
        clean["closes_at"] = None
    fields.check()
    return clean


IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def check_image(data: bytes, max_bytes: int) -> str:
    """Return the image's MIME type, judged by its content (never by its file name)."""
    if not data:
        raise ValidationError(str(_l("The image file is empty.")),
                              {"image": _l("The image file is empty.")})
    if len(data) > max_bytes:
        message = _l("The image is too large: at most %(kb)d kB.", kb=max_bytes // 1024)
        raise ValidationError(str(message), {"image": message})
    for signature, mime in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    message = _l("Only PNG, JPEG or WebP images are accepted.")
    raise ValidationError(str(message), {"image": message})


def clean_citation(value: Any) -> str:
    fields = Fields({"citation": value})
    citation = fields.text("citation", CITATION_MAX, required=False, multiline=True)
    fields.check()
    return citation


def clean_email(value: Any) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        result = validate_email(normalise_text(value), check_deliverability=False)
    except EmailNotValidError as error:
        message = _l("This is not a valid e-mail address.")
        raise ValidationError(str(message), {"email": message}) from error
    return result.normalized.casefold()
