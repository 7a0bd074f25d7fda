"""Issuing, finding and revoking cards. Mutations commit here (through write_transaction)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import segno
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from . import audit, tokens
from .database import write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import VOTER_GROUPS, Gala, Profile, Token, TokenRecusal, utcnow
from .transfer import neutralise_cell
from .validation import normalise_text

MAX_CARDS_PER_BATCH = 2000
LABEL_MAX = 200


@dataclass(frozen=True)
class IssuedCard:
    """One printed card, as it exists only at issuance: its secrets are never stored."""

    code: str
    url: str
    group: str
    label: str
    number: int | None = None  # the card's id, printed small so the desk can find it



@dataclass(frozen=True)
class CardKeys:
    signing_keys: Sequence[str]
    hash_key: str
    public_base_url: str


def _field_error(field: str, message: object) -> ValidationError:
    return ValidationError(str(message), {field: message})


def issue_cards(actor: str, gala_id: int, group: str, keys: CardKeys, *, count: int | None = None,
                labels: Sequence[str] = (), recused_profile_ids: Sequence[int] = (),
                recused_units: Sequence[str] = (), batch: str | None = None) -> list[IssuedCard]:
    """Issue `count` unlabelled cards, or one card per label, for a voter group.

    Every card of the batch carries the same recusals (profiles, and every profile of a
    local-government unit). Returns the secrets, which are not kept anywhere. `batch` is the
    random id of the admin form that asked: the same form sent twice issues nothing more.
    Raises ValidationError for a bad group, count, label or recusal; ConflictError once voting
    is closed or for a batch already issued.
    """
    if group not in VOTER_GROUPS:
        raise _field_error("group", _l("Not one of the allowed values: %(values)s.",
                                       values=", ".join(VOTER_GROUPS)))
    clean_labels = [normalise_text(label) for label in labels]
    if any(not label or len(label) > LABEL_MAX or "\n" in label for label in clean_labels):
        raise _field_error("label", _l("A label is one line of at most %(max)d characters.",
                                       max=LABEL_MAX))
    if clean_labels and count not in (None, len(clean_labels)):
        raise _field_error("count", _l("Give either a number of cards or their labels."))
    total = len(clean_labels) if clean_labels else (count or 0)
    if not 1 <= total <= MAX_CARDS_PER_BATCH:
        raise _field_error("count", _l("Between 1 and %(max)d cards at a time.",
                                       max=MAX_CARDS_PER_BATCH))
    units = sorted({normalise_text(unit) for unit in recused_units if normalise_text(unit)})
    with write_transaction() as session:
        gala = _open_for_cards(db.session.get(Gala, gala_id))
        # Writers are serialised (see write_transaction), so this check still holds at commit.
        if batch and session.scalar(select(Token.id).where(Token.batch == batch).limit(1)):
            raise ConflictError(str(_l(
                "These cards were already issued: the form was sent twice. Their codes were "
                "shown only once; if you do not have them, revoke them in the list.")))
        profile_ids = sorted(set(recused_profile_ids))
        found = set(session.scalars(select(Profile.id).where(
            Profile.id.in_(profile_ids), Profile.gala_id == gala.id))) if profile_ids else set()
        if found != set(profile_ids):
            raise _field_error("recuse", _l("A recused profile is not in this gala."))
        issued = [_new_card(gala, group, clean_labels[index] if clean_labels else "",
                            profile_ids, units, keys, batch)
                  for index in range(total)]
        session.flush()
        issued = [(card, replace(printed, number=card.id)) for card, printed in issued]
        # Counts and labels only: never a code, never a link.
        audit.record(actor, "cards.issue", gala_id=gala.id, subject=group,
                     details={"count": total, "labels": clean_labels,
                              "recused_profiles": profile_ids, "recused_units": units})
    return [card for _, card in issued]


def _open_for_cards(gala: Gala | None) -> Gala:
    """The gala, if cards may still be issued in it (not once voting is closed)."""
    from .window import CLOSED, voting_phase

    if gala is None:
        raise NotFoundError(str(_l("This item no longer exists.")))
    if voting_phase(gala) == CLOSED:
        raise ConflictError(str(_l("Voting in this gala is closed: no new cards.")))
    return gala


def _new_card(gala: Gala, group: str, label: str, profile_ids: Sequence[int],
              units: Sequence[str], keys: CardKeys,
              batch: str | None = None) -> tuple[Token, IssuedCard]:
    """Add one card to the session; return it with the secrets printed on it."""
    secrets_ = tokens.new_card(gala.id, keys.signing_keys, keys.hash_key)
    card = Token(gala_id=gala.id, group=group, label=label, batch=batch,
                 token_digest=secrets_.token_digest, code_digest=secrets_.code_digest)
    card.recusals = ([TokenRecusal(profile_id=pid) for pid in profile_ids]
                     + [TokenRecusal(unit_name=unit) for unit in units])
    db.session.add(card)
    return card, IssuedCard(code=secrets_.code, url=f"{keys.public_base_url}/v/{secrets_.token}",
                            group=group, label=label)


def credential_digest(gala_id: int, credential: object, keys: CardKeys) -> tuple[str, str] | None:
    """Which digest a QR token or a typed short code is looked up by, and its value:
    ("code_digest" | "token_digest", digest); None for anything that is neither."""
    if not isinstance(credential, str):
        return None
    try:
        if tokens.looks_like_code(credential):
            return "code_digest", tokens.code_digest(credential, keys.hash_key)
        return "token_digest", tokens.token_digest(credential, gala_id, keys.signing_keys,
                                                   keys.hash_key)
    except tokens.CardSecretError:
        return None


def find_card(gala_id: int, credential: str, keys: CardKeys) -> Token | None:
    """The card behind a QR token or a typed short code, or None (unknown, forged, malformed)."""
    found = credential_digest(gala_id, credential, keys)
    if found is None:
        return None
    column, digest = found
    return db.session.scalar(select(Token).where(getattr(Token, column) == digest,
                                                 Token.gala_id == gala_id))


def _locked_card(card_id: int) -> Token:
    """The card, locked against a ballot claiming it meanwhile: ballots take no advisory lock,
    so on PostgreSQL the row lock makes a revocation and a claim of one card wait for each
    other, and whichever comes second sees the first (SQLite's write lock does this anyway)."""
    card = db.session.scalar(select(Token).where(Token.id == card_id).with_for_update()
                             .execution_options(populate_existing=True))
    if card is None:
        raise NotFoundError(str(_l("This item no longer exists.")))
    return card


def revoke_card(actor: str, card_id: int) -> Token:
    """Revoke an unused card (a lost sheet): it can no longer vote. Raises ConflictError when
    the card has already voted (its ballot stays counted)."""
    with write_transaction():
        card = _locked_card(card_id)
        if card.used_at is not None:
            raise ConflictError(str(_l("This card has already voted; its ballot stays counted.")))
        if card.revoked_at is None:
            card.revoked_at = utcnow()
            audit.record(actor, "cards.revoke", gala_id=card.gala_id, subject=card.group,
                         details={"card": card.id, "label": card.label})
    return card


def reissue_card(actor: str, card_id: int, keys: CardKeys) -> IssuedCard:
    """Revoke an unused card and issue its replacement, with the same group, label and
    recusals, in one transaction (a lost sheet at the venue desk).

    Raises ConflictError when the card has voted, is already revoked (so a double click makes
    one replacement, not two) or voting is closed.
    """
    with write_transaction() as session:
        card = _locked_card(card_id)
        gala = _open_for_cards(db.session.get(Gala, card.gala_id))
        if card.used_at is not None:
            raise ConflictError(str(_l("This card has already voted; its ballot stays counted.")))
        if card.revoked_at is not None:
            raise ConflictError(str(_l("This card is already revoked.")))
        card.revoked_at = utcnow()
        replacement, issued = _new_card(
            gala, card.group, card.label,
            [r.profile_id for r in card.recusals if r.profile_id is not None],
            [r.unit_name for r in card.recusals if r.unit_name], keys)
        session.flush()
        issued = replace(issued, number=replacement.id)
        audit.record(actor, "cards.reissue", gala_id=gala.id, subject=card.group,
                     details={"card": card.id, "replacement": replacement.id,
                              "label": card.label})
    return issued


# --- The card list -------------------------------------------------------------------------

STATUSES = ("unused", "used", "revoked")


def card_list(gala_id: int, group: str | None = None, status: str | None = None) -> Select:
    """A query (not its rows, the admin pages through it) of a gala's cards by group, label
    and number, optionally of one group and one status: `unused` (may still vote), `used`
    or `revoked`. Cards only: nothing here says what anyone voted."""
    query = (select(Token).where(Token.gala_id == gala_id)
             .options(selectinload(Token.recusals))
             .order_by(Token.group.desc(), func.lower(Token.label), Token.id))
    if group in VOTER_GROUPS:
        query = query.where(Token.group == group)
    if status == "unused":
        query = query.where(Token.used_at.is_(None), Token.revoked_at.is_(None))
    elif status == "used":
        query = query.where(Token.used_at.is_not(None))
    elif status == "revoked":
        query = query.where(Token.revoked_at.is_not(None))
    return query


def recusal_names(card: Token, profile_names: dict[int, str]) -> list[str]:
    """A card's recusals as the admin shows them: profile names, then unit names."""
    return ([profile_names.get(r.profile_id, f"#{r.profile_id}") for r in card.recusals
             if r.profile_id is not None]
            + [r.unit_name for r in card.recusals if r.unit_name])


def unit_names(gala_id: int) -> list[str]:
    """The distinct local-government units of a gala's profiles, for recusal by unit."""
    return list(db.session.scalars(select(Profile.unit_name).where(Profile.gala_id == gala_id)
                                   .distinct().order_by(Profile.unit_name)))


# --- What is printed and downloaded at issuance ----------------------------------------------

CSV_HEADER = ("code", "url", "group", "label")


def cards_csv(issued: Sequence[IssuedCard]) -> str:
    """The issued cards as CSV `code,url,group,label`, labels safe to open in a spreadsheet:
    the only copy of their secrets (the CLI prints it, the admin offers it as a download)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows((card.code, card.url, card.group, neutralise_cell(card.label))
                     for card in issued)
    return out.getvalue()


_PRINTED_CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}")
_TOKEN = re.compile(r"[A-Za-z0-9_.-]{1,300}")
_NUMBER = re.compile(r"[0-9]{1,12}")


def cards_from_form(form: Mapping[str, Any], public_base_url: str) -> list[IssuedCard]:
    """The cards a printable sheet posts back for its CSV, or [] when anything is off.

    Only their shape is checked (a code, a card link on this site, a group, a one-line label):
    the sheet holds the one copy of the secrets, and this only turns them into a file.
    """
    columns = [form.getlist(name) for name in ("code", "url", "group", "label", "number")]
    if len({len(column) for column in columns}) != 1 or not 1 <= len(columns[0]) <= (
            MAX_CARDS_PER_BATCH):
        return []
    prefix = f"{public_base_url}/v/"
    issued = []
    for code, url, group, label, number in zip(*columns, strict=True):
        if (not _PRINTED_CODE.fullmatch(code) or not url.startswith(prefix)
                or not _TOKEN.fullmatch(url[len(prefix):]) or group not in VOTER_GROUPS
                or len(label) > LABEL_MAX or "\n" in label or "\r" in label
                or not _NUMBER.fullmatch(number)):
            return []
        issued.append(IssuedCard(code=code, url=url, group=group, label=label,
                                 number=int(number)))
    return issued


def qr_svg(url: str) -> Markup:
    """The card's link as a QR code, an inline SVG made here (no outside service)."""
    # Error correction M survives a crease or a smudge. No quiet zone in the image: the
    # card's white margin around it is wider than the 4 modules the standard asks for. No
    # fixed size: the print stylesheet sizes it in millimetres.
    svg = segno.make(url, error="m").svg_inline(omitsize=True, border=0, svgclass="qr",
                                                 lineclass=None)
    return Markup(svg)  # noqa: S704  (segno's own SVG of our own URL: no outside markup)


def sheets(issued: Sequence[IssuedCard], per_sheet: int = 8) -> list[list[IssuedCard]]:
    """The cards in A4 sheets of `per_sheet` (2 × 4)."""
    return [list(issued[start:start + per_sheet]) for start in range(0, len(issued), per_sheet)]
