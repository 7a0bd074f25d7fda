"""The OpenAPI 3.1 description of the JSON API, written by hand and served as is.

`tests/test_api_ballots.py` keeps it honest: every route under /api/v1 is described and every
described path exists, each request example marked `x-expect` answers the status it names,
and the answers match the schemas below.
"""

from __future__ import annotations

import copy
from typing import Any

from ..results import RESULT_FORMAT, canonical, commit

CARD_CODE_EXAMPLE = "K7M2Q-9XH4D"
# Made up, as is the code above: the signature matches no key.
QR_TOKEN_EXAMPLE = "eyJnIjoxLCJzIjoiM3E4WmJ2bE1wS1J3c0NQN2Z5eVRfQSJ9.h0Y2kq3Xx1vN9bTgk1pWmC6sQ7U"  # noqa: S105

ORDER = """\
Answers are checked in this order: 413, 401, 423, 409, 422, 403, 429, 503, 201, read as follows.

* **413** comes first, whatever else is wrong (`Content-Length` is checked before anything
  runs; a chunked body is read up to the cap first).
* **429**: the failure limit caps wrong card codes and tokens per client address. A client
  over its limit is answered 429 before its token is even looked up (otherwise the limit
  would not cap guessing); so a 429 can come before a 401. Only failures count: a 401, and a
  422 for a body without a usable token. The limit is generous (120 failures a minute by
  default, `CARD_FAILURE_LIMIT`), so a hall behind one Wi-Fi address is not locked out by its
  own typos; `Retry-After` says when to try again.
* **422** for a body that is not a JSON object, or has no token as text, comes before any
  card is looked up (there is none to look up). With a token, the card is judged first
  (**401** unknown, forged or revoked; **423** voting not open; **409** already used), then
  the ballot: **422** malformed (unknown category, a nominee not in the category, a wrong
  shape or range), then **403** choices this card may not make (a category of another voter
  group, a recused nominee).
* **503**: the database stayed busy through a few retries. Nothing was stored and the card
  is still unused: send the same request again.
* **201**: the ballot is stored and the card used, in one transaction. Nothing is stored
  unless everything is valid.
"""


def _error(code: str, message: str, fields: dict[str, str] | None = None,
           **extra: Any) -> dict[str, Any]:
    return {"error": code, "message": message, "fields": fields or {}, **extra}


def _json(schema: str, description: str, example: Any = None,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    if example is not None:
        content["example"] = example
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": content}}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "integer", "minimum": 0}}}

LANG = {"name": "lang", "in": "query", "required": False,
        "description": "The language of names and messages; else Accept-Language, else Polish.",
        "schema": {"type": "string", "enum": ["pl", "en"]}}

NOT_FOUND_GALA = _json("Error", "No gala has been set up yet.",
                       _error("not_found", "No gala has been set up yet."))


def _card_example(summary: str, value: Any, status: int, card: dict[str, Any] | None = None,
                  voting: str = "open") -> dict[str, Any]:
    expect: dict[str, Any] = {"status": status, "voting": voting}
    if card is not None:
        expect["card"] = card
    return {"summary": summary, "value": value, "x-expect": expect}


BALLOT_EXAMPLES = {
    "vote": _card_example(
        "An audience card's vote by short code (a single-choice category)",
        {"token": CARD_CODE_EXAMPLE, "votes": {"tiktok-roku": 2}}, 201,
        {"group": "audience"}),
    "vote-by-qr-token": _card_example(
        "A juror's vote by the QR link's token (a ranked category, best first)",
        {"token": QR_TOKEN_EXAMPLE, "votes": {"wideo-w-metropolii": [4, 3]}}, 201,
        {"group": "jury", "credential": "qr"}),
    "abstain": _card_example(
        "Abstaining everywhere: a category left out is an abstention",
        {"token": CARD_CODE_EXAMPLE, "votes": {}}, 201, {"group": "audience"}),
    "unknown-card": _card_example(
        "A code no card has", {"token": "ZZZZZ-ZZZZZ", "votes": {}}, 401),
    "revoked-card": _card_example(
        "A revoked card (a lost sheet)", {"token": CARD_CODE_EXAMPLE, "votes": {}}, 401,
        {"group": "audience", "state": "revoked"}),
    "not-open": _card_example(
        "Before voting opens", {"token": CARD_CODE_EXAMPLE, "votes": {"tiktok-roku": 2}}, 423,
        {"group": "audience"}, voting="draft"),
    "closed": _card_example(
        "After voting closed", {"token": CARD_CODE_EXAMPLE, "votes": {"tiktok-roku": 2}}, 423,
        {"group": "audience"}, voting="closed"),
    "used-card": _card_example(
        "A card that has already voted", {"token": CARD_CODE_EXAMPLE,
                                          "votes": {"tiktok-roku": 2}}, 409,
        {"group": "audience", "state": "used"}),
    "malformed": _card_example(
        "Wrong shapes, an unknown category, a nominee of another category",
        {"token": CARD_CODE_EXAMPLE,
         "votes": {"tiktok-roku": [2], "no-such-category": 1, "wideo-w-metropolii": [3, 2]}},
        422, {"group": "jury"}),
    "not-an-object": _card_example("A body that is not a JSON object", [CARD_CODE_EXAMPLE],
                                   422),
    "no-token": _card_example("No token", {"votes": {"tiktok-roku": 2}}, 422),
    "other-group": _card_example(
        "A category the card's group does not vote in",
        {"token": CARD_CODE_EXAMPLE, "votes": {"wideo-w-metropolii": [3, 4]}}, 403,
        {"group": "audience"}),
    "recused": _card_example(
        "A nominee the card is recused from",
        {"token": CARD_CODE_EXAMPLE, "votes": {"tiktok-roku": 2}}, 403,
        {"group": "audience", "recused_units": ["Miasto Wrocław"]}),
}

NO_STORE = {"Cache-Control": {"description": "no-store: an answer must not outlive a reveal.",
                              "schema": {"type": "string"}}}


def _result_example() -> dict[str, Any]:
    """A revealed category with public figures whose commitments really check out."""
    figures_nonce, nonce = "3b" * 32, "9c" * 32  # made up
    figures = canonical({
        "slug": "tiktok-roku", "method": "single", "ballots": 175, "abstentions": 0,
        "ranking": [{"nominee_id": 2, "score": "98", "rank": 1, "eligible": True, "note": None},
                    {"nominee_id": 1, "score": "77", "rank": 2, "eligible": True,
                     "note": None}],
        "tie": False, "tied": [], "winner": 2, "winners": [2], "tie_breaks": [],
        "decided_by": None, "margin": "21", "notes": [], "rounds": [], "groups": []})
    result = canonical({
        "format": RESULT_FORMAT, "gala": {"year": 2026, "name": "Gala Złotych Lajków 2026"},
        "category": {"slug": "tiktok-roku", "name": "TikTok roku",
                     "name_en": "TikTok of the year", "award": "award", "method": "single"},
        "version": 1, "event": "seal", "at": "2026-11-28T20:30:00+00:00",
        "nominees": [{"id": 1, "name": "Łódź – TikTok", "unit": "Miasto Łódź",
                      "platform": "tiktok"},
                     {"id": 2, "name": "Wrocław", "unit": "Miasto Wrocław",
                      "platform": "facebook"}],
        "ranking": [{"nominee_id": 2, "rank": 1, "eligible": True},
                    {"nominee_id": 1, "rank": 2, "eligible": True}],
        "tie": False, "tied": [], "winner": 2, "winners": [2], "awaiting_decision": False,
        "tie_breaks": [], "decided_by": None, "decision": None,
        "ballot_box": "5d41402abc4b2a76b9719d911017c592" * 2,
        "figures": commit(figures_nonce, figures)})
    return {
        "slug": "tiktok-roku", "name": "TikTok roku", "name_en": "TikTok of the year",
        "award": "award", "method": "single", "revealed_at": "2026-11-28T21:05:00+00:00",
        "ranking": [{"nominee_id": 2, "name": "Wrocław", "rank": 1, "score": 98},
                    {"nominee_id": 1, "name": "Łódź – TikTok", "rank": 2, "score": 77}],
        "tie": False, "tied": [], "winner": 2, "winners": [2], "decision": None,
        "version": 1, "commitment": commit(nonce, result), "result": result, "nonce": nonce,
        "history": [{"version": 1, "event": "seal", "commitment": commit(nonce, result),
                     "at": "2026-11-28T20:30:00+00:00"}],
        "ballots": 175, "figures": figures, "figures_nonce": figures_nonce,
    }


RESULT_EXAMPLE = _result_example()
RESULTS_EXAMPLE = {
    "categories": [RESULT_EXAMPLE],
    "sealed": [{"slug": "tiktok-roku", "commitment": RESULT_EXAMPLE["commitment"],
                "version": 1},
               {"slug": "wideo-w-metropolii", "version": 1,
                "commitment": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}],
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error of the API, whatever its status (404, 405, 413 and 500 "
                       "included).",
        "required": ["error", "message", "fields"],
        "properties": {
            "error": {"type": "string", "description": "A machine code: unknown_card, "
                      "voting_not_open, card_used, invalid_ballot, choice_not_allowed, "
                      "too_many_attempts, busy, too_large, not_found, not_revealed, "
                      "method_not_allowed, "
                      "server_error, ...", "pattern": "^[a-z_]+$"},
            "message": {"type": "string", "description": "For people, in the request's "
                        "language (`?lang=`, else Accept-Language, else Polish)."},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "A reason per offending field: per category slug for "
                       "a ballot, or `token`, `votes`, `body`. Empty when none applies."},
        },
    },
    "CardUsedError": {
        "allOf": [{"$ref": "#/components/schemas/Error"},
                  {"type": "object", "required": ["used_at"],
                   "properties": {"used_at": {"type": "string", "format": "date-time",
                                              "description": "When the card voted, ISO 8601 "
                                              "in UTC."}}}],
    },
    "Choice": {
        "description": "One category's choice, by the category's method: a nominee id "
                       "(single); nominee ids best first (ranked, irv); nominee ids (approval); "
                       "scores by nominee id (score). Nominee ids are those of GET /gala; null, "
                       "[] or {} is an abstention.",
        "oneOf": [
            {"type": "integer", "description": "single"},
            {"type": "array", "items": {"type": "integer"}, "uniqueItems": True,
             "description": "ranked, irv (best first, at most `places`); approval (at most "
                            "`max_choices`)"},
            {"type": "object", "additionalProperties": {"type": "integer"},
             "propertyNames": {"pattern": "^[0-9]+$"},
             "description": "score: nominee id to a whole number in the category's range; a "
                            "nominee left out is an abstention on that nominee"},
            {"type": "null"},
        ],
    },
    "BallotRequest": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string", "maxLength": 200,
                      "description": "The card's QR token (the last part of its /v/ link) or "
                                     "its short code (case, spaces, hyphens and O/0, I/L/1 "
                                     "forgiven)."},
            "votes": {"type": "object",
                      "additionalProperties": {"$ref": "#/components/schemas/Choice"},
                      "description": "Choices by category slug; a category left out is an "
                                     "abstention."},
        },
    },
    "Receipt": {
        "type": "object", "required": ["receipt"],
        "properties": {"receipt": {"type": "string",
                                   "pattern": "^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$",
                                   "description": "Proves the ballot is counted once receipts "
                                                  "are published; says nothing of the choices."}},
    },
    "VotingWindow": {
        "type": "object", "required": ["state", "closes_at"],
        "properties": {
            "state": {"type": "string", "enum": ["draft", "open", "closed"],
                      "description": "As voters meet it: an open vote whose closing time has "
                                     "passed is closed."},
            "closes_at": {"type": ["string", "null"], "format": "date-time",
                          "description": "The scheduled closing time, ISO 8601 in UTC."},
        },
    },
    "Nominee": {
        "type": "object",
        "required": ["id", "profile_id", "name", "unit", "platform", "url"],
        "properties": {
            "id": {"type": "integer", "description": "The nominee id ballots use."},
            "profile_id": {"type": "integer"},
            "name": {"type": "string"},
            "unit": {"type": "string", "description": "The local-government unit."},
            "platform": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "Category": {
        "type": "object",
        "required": ["slug", "name", "description", "award", "method", "ex_aequo", "params",
                     "groups", "weights", "nominees"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "award": {"type": "string", "enum": ["award", "mention", "special"],
                      "description": "award: a Golden Like; mention: an honourable mention "
                                     "(wyróżnienie); special: a special award."},
            "method": {"type": "string", "enum": ["single", "ranked", "score", "approval",
                                                  "irv", "decision"],
                       "description": "decision: decided by the chapter after the close, "
                                      "never on a ballot (no groups, no params)."},
            "ex_aequo": {"type": "boolean",
                         "description": "Whether the rules allow joint winners."},
            "params": {"type": "object", "description": "ranked: places, points; irv: "
                       "places; score: min, max, min_scores; approval: max_choices."},
            "groups": {"type": "array",
                       "description": "The voter groups whose ballots decide it; empty for a "
                                      "decision of the chapter.",
                       "items": {"type": "string", "enum": ["jury", "audience"]}},
            "weights": {"type": ["object", "null"],
                        "additionalProperties": {"type": "integer"}},
            "nominees": {"type": "array", "items": {"$ref": "#/components/schemas/Nominee"}},
        },
    },
    "Gala": {
        "type": "object", "required": ["gala", "categories", "voting"],
        "properties": {
            "gala": {
                "type": "object", "required": ["name", "date", "venue", "voting", "closes_at"],
                "properties": {
                    "name": {"type": "string"},
                    "date": {"type": "string", "format": "date"},
                    "venue": {"type": "string"},
                    "voting": {"type": "string", "enum": ["draft", "open", "closed"],
                               "description": "The stored state; see the top-level "
                                              "`voting` for the state voters meet."},
                    "closes_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "categories": {"type": "array",
                           "items": {"$ref": "#/components/schemas/Category"}},
            "voting": {"$ref": "#/components/schemas/VotingWindow"},
        },
    },
    "GroupTurnout": {
        "type": "object", "required": ["issued", "cast"],
        "properties": {"issued": {"type": "integer", "minimum": 0},
                       "cast": {"type": "integer", "minimum": 0}},
    },
    "Turnout": {
        "type": "object", "required": ["issued", "cast", "groups"],
        "properties": {
            "issued": {"type": "integer", "minimum": 0,
                       "description": "Cards issued, revoked cards left out."},
            "cast": {"type": "integer", "minimum": 0,
                     "description": "Cards used, i.e. ballots cast."},
            "groups": {"type": "object", "required": ["jury", "audience"],
                       "additionalProperties": {"$ref": "#/components/schemas/GroupTurnout"}},
        },
    },
    "Receipts": {
        "type": "object", "required": ["receipts", "published_at"],
        "properties": {
            "receipts": {"type": "array", "items": {"type": "string"},
                         "description": "Every counted ballot's receipt, in alphabetical "
                                        "order; never with choices."},
            "published_at": {"type": "string", "format": "date-time",
                             "description": "When the organizers published the list, ISO "
                                            "8601 in UTC."},
        },
    },
    "ResultNominee": {
        "type": "object", "required": ["nominee_id", "name", "rank"],
        "properties": {
            "nominee_id": {"type": "integer", "description": "The nominee id of GET /gala."},
            "name": {"type": "string"},
            "rank": {"type": "integer", "minimum": 1,
                     "description": "Competition ranking: nominees still equal after the "
                                    "tie-breaks share a rank (1, 1, 3)."},
            "score": {"type": ["number", "null"],
                      "description": "Only where the organizer made the category's exact "
                                     "figures public: votes, points, mean score, approvals, "
                                     "the last IRV round's votes or a weighted share."},
        },
    },
    "Decision": {
        "type": ["object", "null"],
        "description": "The jury chair's recorded decision (a tie, or an award of the "
                       "chapter); null when the count decided.",
        "required": ["winners", "ex_aequo", "by", "at", "reason"],
        "properties": {
            "winners": {"type": "array", "items": {"type": "integer"}},
            "ex_aequo": {"type": "boolean"},
            "by": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "reason": {"type": "string"},
        },
    },
    "Result": {
        "type": "object",
        "description": "A revealed category. `commitment` = sha256(`nonce` + \"\\n\" + "
                       "`result`), hex; it was published before the reveal, so anyone can "
                       "check the result did not change since the close. Where the figures are "
                       "public, the `figures` field inside `result` = sha256(`figures_nonce` + "
                       "\"\\n\" + `figures`).",
        "required": ["slug", "name", "name_en", "award", "method", "revealed_at", "ranking",
                     "tie", "tied", "winner", "winners", "decision", "version", "commitment",
                     "result", "nonce", "history"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "name_en": {"type": "string"},
            "award": {"type": "string", "enum": ["award", "mention", "special"]},
            "method": {"type": "string", "enum": ["single", "ranked", "score", "approval",
                                                  "irv", "decision"]},
            "revealed_at": {"type": "string", "format": "date-time"},
            "ranking": {"type": "array", "items": {"$ref": "#/components/schemas/ResultNominee"},
                        "description": "Best first."},
            "tie": {"type": "boolean", "description": "First place tied and undecided (a "
                    "revealed category never is)."},
            "tied": {"type": "array", "items": {"type": "integer"}},
            "winner": {"type": ["integer", "null"],
                       "description": "The winner's nominee id; null for joint winners."},
            "winners": {"type": "array", "items": {"type": "integer"},
                        "description": "Several for joint winners (ex aequo)."},
            "decision": {"$ref": "#/components/schemas/Decision"},
            "version": {"type": "integer", "minimum": 1,
                        "description": "1 is sealed at the close; a decision or a re-tally "
                                       "adds a version."},
            "commitment": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "result": {"type": "string", "description": "The canonical public result (JSON "
                       "text, ranks and winners, no counts) the commitment is over."},
            "nonce": {"type": "string"},
            "history": {"type": "array", "description": "Every sealed version, oldest first.",
                        "items": {"type": "object",
                                  "required": ["version", "event", "commitment", "at"],
                                  "properties": {
                                      "version": {"type": "integer", "minimum": 1},
                                      "event": {"type": "string",
                                                "enum": ["seal", "decision", "retally"]},
                                      "commitment": {"type": "string",
                                                     "pattern": "^[0-9a-f]{64}$"},
                                      "at": {"type": "string", "format": "date-time"}}}},
            "ballots": {"type": "integer", "minimum": 0,
                        "description": "Public figures only: ballots that voted in it."},
            "figures": {"type": "string",
                        "description": "Public figures only: the exact tally (canonical JSON "
                                       "text, exact numbers as text such as \"7/2\")."},
            "figures_nonce": {"type": "string", "description": "Public figures only."},
        },
    },
    "SealedCommitment": {
        "type": "object", "required": ["slug", "commitment", "version"],
        "properties": {
            "slug": {"type": "string"},
            "commitment": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "version": {"type": "integer", "minimum": 1},
        },
    },
    "RevealNominee": {
        "type": "object", "required": ["id", "name", "unit", "platform"],
        "properties": {"id": {"type": "integer", "description": "The nominee id of GET /gala."},
                       "name": {"type": "string"}, "unit": {"type": "string"},
                       "platform": {"type": "string"}},
    },
    "Reveal": {
        "type": "object", "required": ["state", "category", "step"],
        "properties": {
            "state": {"type": "string",
                      "enum": ["before", "voting", "sealed", "reveal", "finished"]},
            "category": {"type": ["object", "null"], "required": ["slug", "name"],
                         "properties": {"slug": {"type": "string"},
                                        "name": {"type": "string"}}},
            "step": {"type": ["string", "null"],
                     "enum": ["title", "nominees", "winner", "summary", "blank", None]},
            "winner": {"$ref": "#/components/schemas/RevealNominee",
                       "description": "Only at a winner step with one winner."},
            "winners": {"type": "array",
                        "items": {"$ref": "#/components/schemas/RevealNominee"},
                        "description": "Only at a winner step with joint winners."},
        },
    },
    "Results": {
        "type": "object", "required": ["categories", "sealed"],
        "properties": {
            "categories": {"type": "array", "items": {"$ref": "#/components/schemas/Result"},
                           "description": "Revealed categories only, in the gala's order."},
            "sealed": {"type": "array",
                       "items": {"$ref": "#/components/schemas/SealedCommitment"},
                       "description": "Every sealed category's current commitment, revealed "
                                      "or not; empty until voting closes."},
        },
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Złote Lajki API",
        "version": "1",
        "summary": "The Golden Likes gala: the nominees, casting ballots with a card, turnout, "
                   "sealed and revealed results.",
        "description": "For kiosks, other front ends and load tests. Every error answers "
                       "`{\"error\": <machine code>, \"message\": <text in the request's "
                       "language>, \"fields\": {...}}`. Names and messages are Polish unless "
                       "`?lang=en` or Accept-Language asks for English. No cookies: a ballot is "
                       "authenticated by its card alone.",
    },
    "servers": [{"url": "/api/v1"}],
    "paths": {
        "/gala": {
            "get": {
                "operationId": "showGala",
                "summary": "The current gala: categories, nominees, the voting window",
                "parameters": [LANG],
                "responses": {
                    "200": _json("Gala", "The current gala."),
                    "404": NOT_FOUND_GALA,
                },
            },
        },
        "/ballots": {
            "post": {
                "operationId": "submitBallot",
                "summary": "Cast a card's ballot, exactly once",
                "description": ORDER,
                "parameters": [LANG],
                "requestBody": {
                    "required": True,
                    "description": "Request examples marked `x-expect` are run by the test "
                                   "suite: `status` is the answer, `voting` the state of the "
                                   "vote and `card` the card whose code (or, with "
                                   "`credential: qr`, QR token) replaces the example's; "
                                   "without `card` the body is sent as it is.",
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/BallotRequest"},
                        "examples": BALLOT_EXAMPLES,
                    }},
                },
                "responses": {
                    "201": _json("Receipt", "The ballot is stored and the card used.",
                                 {"receipt": "7QK2-M9XD-4HTA"}),
                    "401": _json("Error", "Unknown, forged or revoked token or code.",
                                 _error("unknown_card", "This card code is not valid.")),
                    "403": _json("Error", "A category not open to the card's group, or a "
                                 "recused nominee; a reason per category.",
                                 _error("choice_not_allowed", "The ballot makes choices this "
                                        "card may not make.", {"wideo-w-metropolii": "Your card "
                                        "does not vote in this category."})),
                    "409": _json("CardUsedError", "The card has already voted. A retry after "
                                 "a lost answer lands here: the ballot is recorded.",
                                 _error("card_used", "This card was used at 21:14. Your ballot "
                                        "is recorded.", used_at="2026-11-28T20:14:03+00:00")),
                    "413": _json("Error", "The request body is too large.",
                                 _error("too_large", "The upload is too large")),
                    "422": _json("Error", "A malformed ballot or body; a reason per field (a "
                                 "category slug, or token, votes, body).",
                                 _error("invalid_ballot", "The ballot is not valid.",
                                        {"no-such-category": "No such category."})),
                    "423": _json("Error", "Voting is not open (not yet, or no longer).",
                                 _error("voting_not_open", "Voting is not open.")),
                    "429": _json("Error", "Too many failed attempts from this address; see "
                                 "Retry-After.", _error("too_many_attempts", "Too many wrong "
                                                        "card codes were entered from this "
                                                        "network. Please try again in 42 "
                                                        "seconds."), RETRY_AFTER),
                    "503": _json("Error", "Busy: nothing was stored and the card is unused; "
                                 "send again.", _error("busy", "The system is busy. Your card "
                                                       "was not used: please send again."),
                                 RETRY_AFTER),
                },
            },
        },
        "/turnout": {
            "get": {
                "operationId": "showTurnout",
                "summary": "Cards issued and cast, in all and per voter group",
                "description": "Counts only, never who voted or how. `issued` leaves out "
                               "revoked cards; `cast` counts used cards.",
                "parameters": [LANG],
                "responses": {
                    "200": _json("Turnout", "The current gala's turnout.",
                                 {"issued": 340, "cast": 212,
                                  "groups": {"jury": {"issued": 40, "cast": 37},
                                             "audience": {"issued": 300, "cast": 175}}}),
                    "404": NOT_FOUND_GALA,
                },
            },
        },
        "/receipts": {
            "get": {
                "operationId": "listReceipts",
                "summary": "The published receipts of counted ballots",
                "description": "After voting closes the organizers may publish the receipts "
                               "of all counted ballots, so every voter can check theirs is "
                               "in. Receipts only, never with choices.",
                "parameters": [LANG],
                "responses": {
                    "200": _json("Receipts", "The published list.",
                                 {"receipts": ["2B7Q-K9MD-4HTA", "7QK2-M9XD-4HTA"],
                                  "published_at": "2026-11-28T21:05:00+00:00"}),
                    "404": _json("Error", "No gala, or its receipts are not published (yet).",
                                 _error("not_found", "The list of receipts is not "
                                        "published yet.")),
                },
            },
        },
        "/results": {
            "get": {
                "operationId": "listResults",
                "summary": "Revealed results, and every sealed category's commitment",
                "description": "Voting's close seals every category's result with a "
                               "commitment (a hash over the result and a secret nonce). Until "
                               "a category is revealed only its commitment is shown, which "
                               "says nothing of the outcome; once revealed, its result and "
                               "nonce let anyone check the commitment. Never cached.",
                "parameters": [LANG],
                "responses": {
                    "200": _json("Results", "Revealed categories and the commitments.",
                                 RESULTS_EXAMPLE, NO_STORE),
                    "404": NOT_FOUND_GALA,
                },
            },
        },
        "/results/{slug}": {
            "get": {
                "operationId": "showResult",
                "summary": "One revealed category's result",
                "description": "403 until the category is revealed, whatever its state. Exact "
                               "figures (`score`, `ballots`, `figures`) only where the "
                               "organizer made them public: with a small jury, counts can "
                               "tell who voted how.",
                "parameters": [LANG, {"name": "slug", "in": "path", "required": True,
                                      "description": "The category's slug (see GET /gala).",
                                      "schema": {"type": "string"}}],
                "responses": {
                    "200": _json("Result", "The revealed result.", RESULT_EXAMPLE, NO_STORE),
                    "403": _json("Error", "Not revealed yet (sealed or not).",
                                 _error("not_revealed", "This category's result has not been "
                                        "revealed yet."), NO_STORE),
                    "404": _json("Error", "No gala, or no such category in it.",
                                 _error("not_found", "No such category.")),
                },
            },
        },
        "/reveal": {
            "get": {
                "operationId": "showReveal",
                "summary": "The gala screen's current state and step",
                "description": "For other graphics systems (a broadcast overlay). A winner "
                               "is present only at its winner step (`winner`, or `winners` "
                               "for joint winners); ranks and counts never. Never cached.",
                "parameters": [LANG],
                "responses": {
                    "200": _json("Reveal", "The current state and step.",
                                 {"state": "reveal",
                                  "category": {"slug": "wideo-w-metropolii",
                                               "name": "Wideo w metropolii"},
                                  "step": "winner",
                                  "winner": {"id": 17, "name": "Miasto Gdynia",
                                             "unit": "Gdynia", "platform": "youtube"}},
                                 NO_STORE),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "showOpenapi",
                "summary": "This description",
                "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                                      "content": {"application/json": {
                                          "schema": {"type": "object"}}}}},
            },
        },
    },
    "components": {"schemas": SCHEMAS},
}


def openapi_document() -> dict[str, Any]:
    """A copy of the document, safe for the caller to change."""
    return copy.deepcopy(DOCUMENT)
