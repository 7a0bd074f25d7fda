"""Read-only display links: a screen (the projector, a broadcast machine) opens the display with
one, without an organizer's login. The link is a signed id (itsdangerous, its own salt); the
database says whether that id is still valid, so a link can be revoked."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from . import audit
from .database import write_transaction
from .errors import ConflictError, NotFoundError, ValidationError
from .extensions import db
from .models import DisplayLink, utcnow

_SALT = "zlote-lajki.display-link"
MAX_LABEL = 100


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def token_of(link: DisplayLink) -> str:
    return _serializer().dumps({"d": link.id})


def url_of(link: DisplayLink) -> str:
    """The address a screen opens (the overlay is the same with `/display/overlay`)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/display/?key={token_of(link)}"


def link_for(token: Any) -> DisplayLink | None:
    """The valid (not revoked) link a token stands for, or None."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    link_id = data.get("d") if isinstance(data, dict) else None
    if not isinstance(link_id, int) or isinstance(link_id, bool):
        return None
    link = db.session.get(DisplayLink, link_id)
    return link if link is not None and link.revoked_at is None else None


def create_link(actor: str, label: str = "") -> tuple[DisplayLink, str]:
    """A new display link (with a label such as "projector" or "OBS"); returns it and its token.
    Raises ValidationError (`label`) for a label over 100 characters."""
    label = (label or "").strip()
    if len(label) > MAX_LABEL:
        message = str(_l("At most %(count)d characters.", count=MAX_LABEL))
        raise ValidationError(message, {"label": message})
    with write_transaction():
        link = DisplayLink(label=label, created_by=actor[:254])
        db.session.add(link)
        db.session.flush()
        audit.record(actor, "display.link_create", subject=label or f"#{link.id}",
                     details={"link": link.id})
    return link, token_of(link)


def revoke_link(actor: str, link_id: int) -> DisplayLink:
    """Revoke a display link: screens using it stop getting anything at their next poll.
    Raises NotFoundError for an unknown link, ConflictError for one already revoked."""
    with write_transaction():
        link = db.session.get(DisplayLink, link_id)
        if link is None:
            raise NotFoundError(str(_l("This item no longer exists.")))
        if link.revoked_at is not None:
            raise ConflictError(str(_l("This display link is already revoked.")))
        link.revoked_at = utcnow()
        audit.record(actor, "display.link_revoke", subject=link.label or f"#{link.id}",
                     details={"link": link.id})
    return link


def all_links() -> list[DisplayLink]:
    return list(db.session.scalars(select(DisplayLink).order_by(DisplayLink.id.desc())))
