"""The public JSON API, version 1. Described by `GET /api/v1/openapi.json`."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import turnout
from ..abuse import card_attempts, note_card_failure
from ..ballots import card_keys, cast_ballot
from ..errors import CardUnknownError, MalformedBallotError
from ..extensions import csrf
from ..http import error_response
from ..queries import current_gala, current_gala_window, gala_document
from .openapi import openapi_document

bp = Blueprint("api", __name__)

# A QR token is about 80 characters and a short code 11: anything much longer is not a card.
TOKEN_MAX = 200


@bp.get("/gala")
def show_gala() -> Any:
    """The current gala with its categories and nominees, in the request's language."""
    gala = current_gala()
    if gala is None:
        return error_response(404, _("No gala has been set up yet."))
    return jsonify({**gala_document(gala, g.locale), "voting": turnout.voting_window(gala)})


@bp.post("/ballots")
@csrf.exempt  # authenticated by the card in the body, never by a cookie
@card_attempts
def submit_ballot() -> Any:
    """Cast the ballot of the card whose QR token or short code the body carries."""
    token, votes = read_ballot()
    gala = current_gala_window()
    if gala is None:
        raise CardUnknownError(str(_l("This card code is not valid.")))
    receipt = cast_ballot(gala, token, votes, card_keys(current_app.config)).receipt
    return jsonify({"receipt": receipt}), 201


@bp.get("/turnout")
def show_turnout() -> Any:
    """Cards issued and cast in the current gala, in all and per voter group."""
    gala = current_gala()
    if gala is None:
        return error_response(404, _("No gala has been set up yet."))
    return jsonify(turnout.turnout(gala))


@bp.get("/openapi.json")
def show_openapi() -> Any:
    """This API's OpenAPI 3.1 description."""
    return jsonify(openapi_document())


def read_ballot() -> tuple[str, Any]:
    """The token and votes of a ballot request; a body without a usable token is a 422.

    With a token in hand, everything else about the ballot is judged after the card is
    (401 before 422), by `cast_ballot`.
    """
    try:
        body = json.loads(request.get_data(cache=True) or b"")
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        body = None
    if not isinstance(body, dict):
        problems = {"body": _l("Send a JSON object with “token” and “votes”.")}
    else:
        token, problems = body.get("token"), {}
        if not isinstance(token, str) or not token.strip():
            problems["token"] = _l("Give the card's QR token or its short code, as text.")
            if "votes" in body and not isinstance(body["votes"], dict):
                problems["votes"] = _l("The ballot must map categories to choices.")
    if problems:
        note_card_failure()
        raise MalformedBallotError(str(_l("The ballot is not valid.")), problems)
    if len(token) > TOKEN_MAX:
        raise CardUnknownError(str(_l("This card code is not valid.")))
    return token, body.get("votes")
