"""Issuing, finding and revoking cards. Mutations commit here (through write_transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from . import audit, tokens
from .database import write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import VOTER_GROUPS, Gala, Profile, Token, TokenRecusal, utcnow
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


@dataclass(frozen=True)
class CardKeys:
    signing_keys: Sequence[str]
    hash_key: str
    public_base_url: str


def _field_error(field: str, message: object) -> ValidationError:
    return ValidationError(str(message), {field: message})


def issue_cards(actor: str, gala_id: int, group: str, keys: CardKeys, *, count: int | None = None,
                labels: Sequence[str] = (), recused_profile_ids: Sequence[int] = (),
                recused_units: Sequence[str] = ()) -> list[IssuedCard]:
    """Issue `count` unlabelled cards, or one card per label, for a voter group.

    Every card of the batch carries the same recusals (profiles, and every profile of a
    local-government unit). Returns the secrets, which are not kept anywhere.
    Raises ValidationError for a bad group, count, label or recusal.
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
        gala = db.session.get(Gala, gala_id)
        if gala is None:
            raise NotFoundError(str(_l("This item no longer exists.")))
        if gala.voting_state == "closed":
            raise ConflictError(str(_l("Voting in this gala is closed: no new cards.")))
        profile_ids = sorted(set(recused_profile_ids))
        found = set(session.scalars(select(Profile.id).where(
            Profile.id.in_(profile_ids), Profile.gala_id == gala.id))) if profile_ids else set()
        if found != set(profile_ids):
            raise _field_error("recuse", _l("A recused profile is not in this gala."))
        issued = []
        for index in range(total):
            label = clean_labels[index] if clean_labels else ""
            secrets_ = tokens.new_card(gala.id, keys.signing_keys, keys.hash_key)
            card = Token(gala_id=gala.id, group=group, label=label,
                         token_digest=secrets_.token_digest, code_digest=secrets_.code_digest)
            card.recusals = ([TokenRecusal(profile_id=pid) for pid in profile_ids]
                             + [TokenRecusal(unit_name=unit) for unit in units])
            session.add(card)
            issued.append(IssuedCard(code=secrets_.code,
                                     url=f"{keys.public_base_url}/v/{secrets_.token}",
                                     group=group, label=label))
        session.flush()
        # Counts and labels only: never a code, never a link.
        audit.record(actor, "cards.issue", gala_id=gala.id, subject=group,
                     details={"count": total, "labels": clean_labels,
                              "recused_profiles": profile_ids, "recused_units": units})
    return issued


def find_card(gala_id: int, credential: str, keys: CardKeys) -> Token | None:
    """The card behind a QR token or a typed short code, or None (unknown, forged, malformed)."""
    try:
        if tokens.looks_like_code(credential):
            digest = tokens.code_digest(credential, keys.hash_key)
            column = Token.code_digest
        else:
            digest = tokens.token_digest(credential, gala_id, keys.signing_keys, keys.hash_key)
            column = Token.token_digest
    except tokens.CardSecretError:
        return None
    return db.session.scalar(select(Token).where(column == digest, Token.gala_id == gala_id))


def revoke_card(actor: str, card_id: int) -> Token:
    """Revoke an unused card (a lost sheet): it can no longer vote. Raises ConflictError when
    the card has already voted (its ballot stays counted)."""
    with write_transaction():
        card = db.session.get(Token, card_id)
        if card is None:
            raise NotFoundError(str(_l("This item no longer exists.")))
        if card.used_at is not None:
            raise ConflictError(str(_l("This card has already voted; its ballot stays counted.")))
        if card.revoked_at is None:
            card.revoked_at = utcnow()
            audit.record(actor, "cards.revoke", gala_id=card.gala_id, subject=card.group,
                         details={"card": card.id, "label": card.label})
    return card
