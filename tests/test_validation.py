"""Pure checks of what an organizer may enter (no application, no database)."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from voting.errors import ValidationError
from voting.validation import (
    NAME_MAX,
    URL_MAX,
    check_image,
    check_profile_url,
    clean_category,
    clean_citation,
    clean_email,
    clean_gala,
    clean_profile,
    normalise_text,
    parse_points,
    slugify,
)

LODZ = "Łódź"
LODZ_DECOMPOSED = unicodedata.normalize("NFD", LODZ)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def profile_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Wrocław", "unit_name": "Urząd Miejski Wrocławia", "unit_type": "miasto",
        "voivodeship": "dolnośląskie", "platform": "facebook", "handle": "@wroclaw",
        "url": "https://www.facebook.com/wroclaw", "description": "Oficjalny profil miasta.",
    }
    data.update(overrides)
    return data


def category_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {"name_pl": "TikTok roku", "method": "single",
                               "weights": {"audience": 100}}
    data.update(overrides)
    return data


def field_errors(call, *args: object) -> dict[str, str]:  # noqa: ANN001
    with pytest.raises(ValidationError) as caught:
        call(*args)
    return {field: str(reason) for field, reason in caught.value.errors.items()}


# --- text: NFC, length, control characters ------------------------------------------------


def test_normalise_text_makes_decomposed_polish_letters_composed():
    assert LODZ_DECOMPOSED != LODZ  # the test means something only if they differ
    assert normalise_text(LODZ_DECOMPOSED) == LODZ
    assert normalise_text(f"  {LODZ}\r\n\r\n") == LODZ
    assert normalise_text("a\r\nb\rc") == "a\nb\nc"
    assert normalise_text(None) == ""


def test_clean_profile_decomposed_input_equals_composed():
    typed_on_a_mac = clean_profile(profile_data(
        name=LODZ_DECOMPOSED, unit_name=unicodedata.normalize("NFD", "Urząd Miasta Łodzi"),
        voivodeship=unicodedata.normalize("NFD", "łódzkie")))
    typed_on_windows = clean_profile(profile_data(
        name=LODZ, unit_name="Urząd Miasta Łodzi", voivodeship="łódzkie"))
    assert typed_on_a_mac == typed_on_windows
    assert typed_on_a_mac["name"] == LODZ
    assert typed_on_a_mac["voivodeship"] == "łódzkie"


def test_clean_profile_length_counts_characters_after_nfc():
    # 200 composed letters typed decomposed are 400 code points, and still fit.
    name = "ł" * 100 + "ó" * 100
    clean = clean_profile(profile_data(name=unicodedata.normalize("NFD", name)))
    assert clean["name"] == name
    assert len(clean["name"]) == NAME_MAX


def test_clean_profile_name_over_limit_is_a_field_error():
    assert clean_profile(profile_data(name="x" * NAME_MAX))["name"] == "x" * NAME_MAX
    errors = field_errors(clean_profile, profile_data(name="x" * (NAME_MAX + 1)))
    assert set(errors) == {"name"}
    assert "200" in errors["name"] and "201" in errors["name"]


def test_clean_profile_description_and_handle_limits():
    errors = field_errors(clean_profile, profile_data(description="d" * 2001, handle="h" * 101))
    assert set(errors) == {"description", "handle"}
    clean = clean_profile(profile_data(description="d" * 2000, handle="h" * 100))
    assert len(clean["description"]) == 2000


def test_clean_profile_reports_every_bad_field_at_once():
    errors = field_errors(clean_profile, {"name": "", "unit_name": "", "unit_type": "wieś",
                                          "platform": "myspace", "url": "",
                                          "voivodeship": "bawaria"})
    assert set(errors) == {"name", "unit_name", "unit_type", "platform", "url", "voivodeship"}


@pytest.mark.parametrize("bad", [
    "Wroc\x00ław", "Wroc\x07ław", "Wroc\x1bław", "Wroc\x7fław",
    "Wroc\u200bław",  # zero-width space
    "Wroc\u200dław",  # zero-width joiner
    "Wroc\u202eław",  # right-to-left override
    "Wroc\u2066ław",  # left-to-right isolate
    "Wroc\x9bław",    # C1 control (CSI, a terminal escape)
    "Wroc\ufeffław",  # zero-width no-break space (a BOM pasted from another file)
    "Wroc\u2028ław",  # line separator: a line break the single-line check does not see
])
def test_clean_profile_rejects_control_characters(bad: str):
    errors = field_errors(clean_profile, profile_data(name=bad))
    assert set(errors) == {"name"}
    assert "control" in errors["name"]


def test_clean_profile_single_line_fields_reject_line_breaks_description_allows_them():
    errors = field_errors(clean_profile, profile_data(name="Wrocław\nFake"))
    assert set(errors) == {"name"}
    clean = clean_profile(profile_data(description="Pierwsza linia\r\nDruga linia"))
    assert clean["description"] == "Pierwsza linia\nDruga linia"


def test_clean_profile_multiline_description_still_rejects_control_characters():
    errors = field_errors(clean_profile, profile_data(description="ok\n\x00"))
    assert set(errors) == {"description"}


def test_clean_citation_limit_and_control_characters():
    assert clean_citation("  za serię o mostach  ") == "za serię o mostach"
    assert clean_citation(None) == ""
    assert set(field_errors(clean_citation, "c" * 501)) == {"citation"}
    assert set(field_errors(clean_citation, "za\u202e serię")) == {"citation"}


# --- slugs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "slug"), [
    ("TikTok roku", "tiktok-roku"),
    ("Łódź", "lodz"),
    ("Żółć gęślą jaźń", "zolc-gesla-jazn"),
    ("ŁĄKA, ŚLĄSK i ŹRÓDŁO", "laka-slask-i-zrodlo"),
    ("  --Wideo w metropolii!--  ", "wideo-w-metropolii"),
    (LODZ_DECOMPOSED + " 2026", "lodz-2026"),
    ("???", ""),
])
def test_slugify_transliterates_polish_letters(text: str, slug: str):
    assert slugify(text) == slug


def test_slugify_is_at_most_80_characters_and_never_ends_with_a_hyphen():
    slug = slugify("ab " * 60)
    assert len(slug) <= 80
    assert not slug.endswith("-") and not slug.startswith("-")


def test_clean_category_slug_made_from_polish_name():
    assert clean_category(category_data(name_pl="Kampania profrekwencyjna – Łódź"))["slug"] == (
        "kampania-profrekwencyjna-lodz")


@pytest.mark.parametrize("slug", ["Has Space", "pod_kreslnik", "łódź", "-lead", "trail-",
                                  "double--hyphen", "x" * 81])
def test_clean_category_rejects_bad_slug(slug: str):
    assert set(field_errors(clean_category, category_data(slug=slug))) == {"slug"}


def test_clean_category_slug_is_lowercased():
    assert clean_category(category_data(slug="TikTok-Roku"))["slug"] == "tiktok-roku"


def test_clean_category_name_required_and_limited():
    assert "name_pl" in field_errors(clean_category, category_data(name_pl=""))
    assert "name_pl" in field_errors(clean_category, category_data(name_pl="n" * 201,
                                                                   slug="ok"))


# --- profile URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "normalised"), [
    ("https://www.facebook.com/wroclaw", "https://www.facebook.com/wroclaw"),
    ("https://facebook.com/wroclaw", "https://facebook.com/wroclaw"),
    ("https://m.facebook.com/wroclaw", "https://m.facebook.com/wroclaw"),
    ("https://fb.com/wroclaw", "https://fb.com/wroclaw"),
    ("https://pl-pl.fb.com/wroclaw", "https://pl-pl.fb.com/wroclaw"),
    ("HTTPS://WWW.FACEBOOK.COM/Wroclaw", "https://www.facebook.com/Wroclaw"),
    ("https://facebook.com", "https://facebook.com/"),
    ("https://facebook.com./wroclaw", "https://facebook.com/wroclaw"),
    ("https://facebook.com/wroclaw#posts", "https://facebook.com/wroclaw"),
    ("https://facebook.com/profile.php?id=123", "https://facebook.com/profile.php?id=123"),
    ("http://facebook.com/wroclaw", "http://facebook.com/wroclaw"),
])
def test_check_profile_url_accepts_platform_host_and_subdomains(url: str, normalised: str):
    assert check_profile_url(url, "facebook") == (normalised, None)


@pytest.mark.parametrize("url", [
    "www.facebook.com/wroclaw",
    "facebook.com/wroclaw",
    "  facebook.com/wroclaw  ",
])
def test_check_profile_url_missing_scheme_gets_https(url: str):
    normalised, problem = check_profile_url(url, "facebook")
    assert problem is None
    assert normalised.startswith("https://")
    assert normalised.endswith("facebook.com/wroclaw")


@pytest.mark.parametrize("url", [
    "https://facebook.com.evil.com",
    "https://facebook.com.evil.com/wroclaw",
    "https://evil.com/facebook.com",
    "https://evil.com/?u=https://facebook.com",
    "https://notfacebook.com/wroclaw",
    "https://wwwfacebook.com/wroclaw",
    "https://fb.com.evil.com/",
    "https://instagram.com/wroclaw",
    "https://user@facebook.com/wroclaw",
    "https://user:secret@facebook.com/wroclaw",
    "https://facebook.com@evil.com/wroclaw",
    "facebook.com@evil.com",
    "ftp://facebook.com/wroclaw",
    "javascript:alert(1)//facebook.com",
    "https://facebook.com/wroc law",
    "https://facebook.com/wroc\u200bław",
    "https://",
    "https://localhost/wroclaw",
    "",
    "https://facebook.com/" + "a" * URL_MAX,
])
def test_check_profile_url_rejects_foreign_or_malformed(url: str):
    _, problem = check_profile_url(url, "facebook")
    assert problem is not None, url


def test_check_profile_url_error_names_the_platform_hosts():
    _, problem = check_profile_url("https://facebook.com.evil.com", "facebook")
    assert "facebook.com" in str(problem) and "fb.com" in str(problem)


@pytest.mark.parametrize(("platform", "url"), [
    ("instagram", "https://www.instagram.com/gdansk"),
    ("tiktok", "https://www.tiktok.com/@lodz"),
    ("youtube", "https://youtu.be/abc"),
    ("youtube", "https://www.youtube.com/@gdansk"),
    ("x", "https://twitter.com/warszawa"),
    ("x", "https://x.com/warszawa"),
    ("threads", "https://www.threads.net/@krakow"),
    ("bluesky", "https://bsky.app/profile/krakow"),
    ("linkedin", "https://www.linkedin.com/company/krakow"),
    ("website", "https://www.wojkowice.pl/aktualnosci"),
    ("other", "https://mastodon.social/@gdynia"),
])
def test_check_profile_url_per_platform(platform: str, url: str):
    assert check_profile_url(url, platform) == (url, None)


def test_check_profile_url_website_still_needs_a_real_host():
    assert check_profile_url("https://wojkowice.pl", "website")[1] is None
    assert check_profile_url("https://wojkowice", "website")[1] is not None
    assert check_profile_url("https://user@wojkowice.pl", "website")[1] is not None


def test_check_profile_url_international_domain_is_stored_as_punycode():
    url, problem = check_profile_url("https://łódź.pl/miasto", "website")
    assert problem is None
    assert url == "https://xn--d-uga0v4h.pl/miasto"


def test_clean_profile_bad_url_is_a_url_field_error():
    errors = field_errors(clean_profile, profile_data(url="https://facebook.com.evil.com"))
    assert set(errors) == {"url"}


def test_clean_profile_platform_alias_and_url_checked_against_it():
    clean = clean_profile(profile_data(platform="Twitter", url="twitter.com/warszawa"))
    assert clean["platform"] == "x"
    assert clean["url"] == "https://twitter.com/warszawa"
    errors = field_errors(clean_profile, profile_data(platform="twitter",
                                                      url="https://facebook.com/x"))
    assert set(errors) == {"url"}


# --- voivodeships and unit types ------------------------------------------------------------


@pytest.mark.parametrize("typed", [
    "łódzkie", "Łódzkie", "ŁÓDZKIE", "województwo łódzkie", "Województwo Łódzkie",
    "WOJEWÓDZTWO ŁÓDZKIE", "woj. łódzkie", "woj łódzkie", "  województwo   łódzkie ",
    unicodedata.normalize("NFD", "Województwo łódzkie"),
])
def test_clean_profile_voivodeship_prefix_and_case(typed: str):
    assert clean_profile(profile_data(voivodeship=typed))["voivodeship"] == "łódzkie"


@pytest.mark.parametrize("typed", ["Śląskie", "województwo świętokrzyskie",
                                   "Warmińsko-Mazurskie"])
def test_clean_profile_voivodeship_other_names(typed: str):
    assert clean_profile(profile_data(voivodeship=typed))["voivodeship"] == typed.lower().replace(
        "województwo ", "")


@pytest.mark.parametrize("typed", ["bawaria", "lodzkie", "województwo", "powiat łódzki"])
def test_clean_profile_voivodeship_unknown_rejected(typed: str):
    assert set(field_errors(clean_profile, profile_data(voivodeship=typed))) == {"voivodeship"}


def test_clean_profile_voivodeship_optional():
    assert clean_profile(profile_data(voivodeship=""))["voivodeship"] is None
    assert clean_profile(profile_data(voivodeship=None))["voivodeship"] is None


@pytest.mark.parametrize(("typed", "unit_type"), [
    ("gmina", "gmina"), ("Miasto", "miasto"), ("Województwo", "wojewodztwo"),
    ("miasto na prawach powiatu", "miasto"), ("county", "powiat"), ("inne", "other"),
])
def test_clean_profile_unit_type_aliases(typed: str, unit_type: str):
    assert clean_profile(profile_data(unit_type=typed))["unit_type"] == unit_type


# --- voting methods and their parameters ----------------------------------------------------


def test_clean_category_single_has_no_parameters():
    clean = clean_category(category_data(places=5, points="9,8", score_min=3))
    assert clean["method"] == "single"
    assert (clean["places"], clean["points"], clean["score_min"], clean["score_max"],
            clean["min_scores"], clean["max_choices"]) == (None,) * 6
    assert clean["weights"] == {"audience": 100}


def test_clean_category_unknown_method():
    assert set(field_errors(clean_category, category_data(method="borda"))) == {"method"}
    assert set(field_errors(clean_category, category_data(method=""))) == {"method"}


def test_clean_category_ranked_defaults_to_borda_over_the_places_filled():
    clean = clean_category(category_data(method="ranked"))
    assert clean["places"] == 3
    assert clean["points"] is None  # the tally's Borda over the places each ballot filled
    clean = clean_category(category_data(method="ranked", places="5"))
    assert (clean["places"], clean["points"]) == (5, None)


def test_clean_category_ranked_points_from_text_or_list():
    assert clean_category(category_data(method="ranked", places=3,
                                        points="12, 10; 8"))["points"] == [12, 10, 8]
    assert clean_category(category_data(method="ranked", places=3,
                                        points=[12, 10, 8]))["points"] == [12, 10, 8]
    # equal points for neighbouring places are allowed: never increasing is the rule
    assert clean_category(category_data(method="ranked", places=3,
                                        points="5,5,0"))["points"] == [5, 5, 0]


@pytest.mark.parametrize(("places", "points"), [
    (3, "12,10"),        # too few
    (2, "12,10,8"),      # too many
    (3, "8,10,12"),      # increasing
    (3, "10,12,8"),      # a worse place scores more
    (2, "0,0"),          # first place must score
    (2, "5,-1"),         # negative
    (2, "1001,5"),       # over 1000
    (2, "pięć,trzy"),    # not numbers
    (2, "1.5,1"),        # not whole numbers
    (2, [True, False]),  # booleans are not points
])
def test_clean_category_ranked_bad_points(places: int, points: object):
    errors = field_errors(clean_category, category_data(method="ranked", places=places,
                                                        points=points))
    assert set(errors) == {"points"}


@pytest.mark.parametrize("places", [0, 21, "x"])
def test_clean_category_ranked_places_range(places: object):
    assert "places" in field_errors(clean_category, category_data(method="ranked",
                                                                  places=places))


def test_clean_category_ranked_one_place_is_allowed_irv_needs_two():
    assert clean_category(category_data(method="ranked", places=1))["places"] == 1
    assert set(field_errors(clean_category, category_data(method="irv", places=1))) == {
        "places"}


def test_clean_category_irv_defaults_and_no_points():
    clean = clean_category(category_data(method="irv", points="3,2,1"))
    assert clean["places"] == 3
    assert clean["points"] is None


def test_clean_category_irv_needs_exactly_one_group():
    errors = field_errors(clean_category, category_data(
        method="irv", weights={"jury": 50, "audience": 50}))
    assert set(errors) == {"weights"}
    assert clean_category(category_data(method="irv", weights={"jury": 100}))["weights"] == {
        "jury": 100}


def test_clean_category_score_defaults():
    clean = clean_category(category_data(method="score"))
    assert (clean["score_min"], clean["score_max"], clean["min_scores"]) == (1, 10, 1)
    assert clean["places"] is None and clean["points"] is None


@pytest.mark.parametrize(("low", "high"), [(5, 5), (10, 1)])
def test_clean_category_score_min_must_be_below_max(low: int, high: int):
    errors = field_errors(clean_category, category_data(method="score", score_min=low,
                                                        score_max=high))
    assert set(errors) == {"score_max"}


def test_clean_category_score_range_limits():
    assert "score_min" in field_errors(clean_category, category_data(
        method="score", score_min=-101, score_max=10))
    assert "min_scores" in field_errors(clean_category, category_data(
        method="score", min_scores=-1))
    clean = clean_category(category_data(method="score", score_min="0", score_max="5",
                                         min_scores="3"))
    assert (clean["score_min"], clean["score_max"], clean["min_scores"]) == (0, 5, 3)


def test_clean_category_approval_limit_optional():
    assert clean_category(category_data(method="approval"))["max_choices"] is None
    assert clean_category(category_data(method="approval", max_choices="2"))["max_choices"] == 2
    assert set(field_errors(clean_category, category_data(method="approval",
                                                          max_choices=0))) == {"max_choices"}


def test_clean_category_weights_several_groups_must_add_to_100():
    clean = clean_category(category_data(weights={"jury": 70, "audience": 30}))
    assert clean["weights"] == {"jury": 70, "audience": 30}
    clean = clean_category(category_data(weights={"jury": "60", "audience": "40"}))
    assert clean["weights"] == {"jury": 60, "audience": 40}


@pytest.mark.parametrize("weights", [
    {"jury": 70, "audience": 40},
    {"jury": 50, "audience": 49},
    {"jury": 100, "audience": 0},
    {"jury": 101, "audience": -1},
    {"jury": "siedemdziesiąt", "audience": 30},
    {"public": 100},
    {},
    None,
    "jury",
])
def test_clean_category_bad_weights(weights: object):
    assert set(field_errors(clean_category, category_data(weights=weights))) == {"weights"}


def test_clean_category_single_group_always_weighs_100():
    assert clean_category(category_data(weights={"jury": 35}))["weights"] == {"jury": 100}


def test_parse_points():
    assert parse_points("") is None
    assert parse_points(None) is None
    assert parse_points([]) is None
    assert parse_points(" 3 2 1 ") == [3, 2, 1]
    with pytest.raises(ValueError):
        parse_points("3,x")


# --- gala dates ------------------------------------------------------------------------------


def test_clean_gala_parses_iso_date():
    clean = clean_gala({"name": " Gala Złotych Lajków 2026 ", "date": "2026-11-28",
                        "venue": "Warszawa"})
    assert clean == {"name": "Gala Złotych Lajków 2026", "venue": "Warszawa",
                     "date": dt.date(2026, 11, 28), "closes_at": None}


@pytest.mark.parametrize(("typed", "utc"), [
    ("2026-11-28T19:30", dt.datetime(2026, 11, 28, 18, 30, tzinfo=dt.UTC)),  # CET, UTC+1
    ("2026-11-28 19:30", dt.datetime(2026, 11, 28, 18, 30, tzinfo=dt.UTC)),
    ("2026-07-01T12:00", dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)),     # CEST, UTC+2
    (dt.datetime(2026, 11, 28, 19, 30), dt.datetime(2026, 11, 28, 18, 30, tzinfo=dt.UTC)),
    ("2026-11-28T19:30+00:00", dt.datetime(2026, 11, 28, 19, 30, tzinfo=dt.UTC)),
])
def test_clean_gala_closing_time_is_warsaw_wall_clock_stored_as_utc(typed: object,
                                                                     utc: dt.datetime):
    clean = clean_gala({"name": "Gala", "date": "2026-11-28", "closes_at": typed})
    assert clean["closes_at"] == utc
    assert clean["closes_at"].utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("typed", ["jutro o 19", "28.11.2026 19:30", "2026-11-28T25:00"])
def test_clean_gala_rejects_bad_closing_time(typed: str):
    assert set(field_errors(clean_gala, {"name": "Gala", "date": "2026-11-28",
                                         "closes_at": typed})) == {"closes_at"}


def test_clean_gala_accepts_a_date_object():
    assert clean_gala({"name": "Gala", "date": dt.date(2027, 1, 2)})["date"] == dt.date(2027, 1, 2)


@pytest.mark.parametrize("date", ["28.11.2026", "2026-02-30", "", None, "jutro", "1999-12-31",
                                  "2201-01-01"])
def test_clean_gala_rejects_bad_dates(date: object):
    assert set(field_errors(clean_gala, {"name": "Gala", "date": date})) == {"date"}


def test_clean_gala_requires_name():
    assert set(field_errors(clean_gala, {"name": "  ", "date": "2026-11-28"})) == {"name"}


# --- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "mime"), [(PNG, "image/png"), (JPEG, "image/jpeg"),
                                            (WEBP, "image/webp")])
def test_check_image_by_magic_bytes(data: bytes, mime: str):
    assert check_image(data, 1024) == mime


@pytest.mark.parametrize("data", [
    b"GIF89a" + b"\x00" * 32,
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    b"%PDF-1.7",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"\x89PNG",  # a truncated signature
])
def test_check_image_rejects_other_content(data: bytes):
    assert set(field_errors(check_image, data, 1024)) == {"image"}


def test_check_image_size_limit():
    assert check_image(PNG + b"\x00" * (1024 - len(PNG)), 1024) == "image/png"
    errors = field_errors(check_image, PNG + b"\x00" * (1025 - len(PNG)), 1024)
    assert set(errors) == {"image"}
    assert "1 kB" in errors["image"]


def test_check_image_empty():
    assert set(field_errors(check_image, b"", 1024)) == {"image"}


# --- e-mail ----------------------------------------------------------------------------------


def test_clean_email_normalises_case_and_space():
    assert clean_email("  Jury.Chair@Example.COM ") == "jury.chair@example.com"


@pytest.mark.parametrize("email", ["", "jury", "jury@", "@example.com", "jury chair@example.com",
                                   "jury@@example.com", "jury@example", None])
def test_clean_email_rejects_invalid(email: object):
    assert set(field_errors(clean_email, email)) == {"email"}
