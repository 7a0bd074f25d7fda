"""Every mutation of the gala, and so every commit, goes through here.

Views, the CLI and the imports call these functions; each runs in one write transaction,
records itself in the audit trail and either succeeds whole or raises a `VotingError` and
changes nothing.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import audit
from .database import write_transaction
from .errors import ConflictError, LockedError, NotFoundError, ValidationError
from .extensions import db
from .models import (
    ROLES,
    Category,
    CategoryGroup,
    Gala,
    Nomination,
    Organizer,
    Profile,
    utcnow,
)
from .roles import ADMIN, ROLE_NAMES
from .validation import (
    check_image,
    clean_category,
    clean_citation,
    clean_email,
    clean_gala,
    clean_profile,
)

# The voting window's mutations live in `window`; they are imported here too (F401), where the
# views, the CLI and the tests find every mutation.
from .window import (  # noqa: F401
    check_closing_time,
    close_voting,
    open_voting,
    publish_receipts,
    refuse_while_another_vote_is_open,
    schedule_close,
)

password_hasher = PasswordHasher()
# Verifying against this keeps an unknown e-mail as slow as a wrong password.
_DUMMY_HASH = password_hasher.hash(secrets.token_hex(16))
DEMO_ORGANIZER_EMAIL = "organizator@example.com"
DEMO_PASSWORD_FILE = "demo-organizer-password"  # noqa: S105  (a file name, not a password)
MIN_PASSWORD_LENGTH = 12


def get_existing(model: type, ident: int) -> Any:
    obj = db.session.get(model, ident)
    if obj is None:
        raise NotFoundError(str(_l("This item no longer exists.")))
    return obj


def ensure_unlocked(gala: Gala) -> None:
    if gala.locked:
        raise LockedError(str(_l(
            "Voting in this gala opened on %(when)s. From then on, nominees and voting methods "
            "are frozen for good, so that every ballot counts against the same choices.",
            when=format_datetime(gala.first_opened_at, "d MMMM yyyy, HH:mm"),
        )))


def _field_error(field: str, message: Any) -> ValidationError:
    return ValidationError(str(message), {field: message})


# --- Galas -------------------------------------------------------------------------------


def create_gala(actor: str, data: dict[str, Any]) -> Gala:
    """Create an edition and make it the current gala. Raises ValidationError (one per year)."""
    clean = clean_gala(data)
    with write_transaction() as session:
        year = clean["date"].year
        if session.scalar(select(Gala.id).where(Gala.year == year)) is not None:
            raise _field_error("date", _l("There is already a gala in %(year)d.", year=year))
        gala = Gala(year=year, current_since=utcnow(), **clean)
        session.add(gala)
        _flush_unique(session, "date", _l("There is already a gala in %(year)d.", year=year))
        audit.record(actor, "gala.create", gala_id=gala.id, subject=gala.name, details=clean)
    return gala


def update_gala(actor: str, gala_id: int, data: dict[str, Any]) -> Gala:
    """Change an edition's name, date, venue or closing time. Raises ValidationError."""
    clean = clean_gala(data)
    with write_transaction() as session:
        gala = get_existing(Gala, gala_id)
        year = clean["date"].year
        other = session.scalar(select(Gala.id).where(Gala.year == year, Gala.id != gala.id))
        if other is not None:
            raise _field_error("date", _l("There is already a gala in %(year)d.", year=year))
        if clean["closes_at"] != gala.closes_at:
            check_closing_time(gala, clean["closes_at"])
        changes = _apply(gala, {**clean, "year": year})
        _flush_unique(session, "date", _l("There is already a gala in %(year)d.", year=year))
        audit.record(actor, "gala.update", gala_id=gala.id, subject=gala.name, details=changes)
    return gala


def switch_gala(actor: str, gala_id: int) -> Gala:
    """Make another edition the current one (for the admin and the public pages)."""
    with write_transaction():
        gala = get_existing(Gala, gala_id)
        refuse_while_another_vote_is_open(gala.id)
        gala.current_since = utcnow()
        audit.record(actor, "gala.switch", gala_id=gala.id, subject=gala.name)
    return gala


# --- Categories ----------------------------------------------------------------------------


def _category_values(clean: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in clean.items() if key != "weights"}


def _slug_taken(session: Any, gala_id: int, slug: str, exclude_id: int | None = None) -> bool:
    query = select(Category.id).where(Category.gala_id == gala_id, Category.slug == slug)
    if exclude_id is not None:
        query = query.where(Category.id != exclude_id)
    return session.scalar(query) is not None


def create_category(actor: str, gala_id: int, data: dict[str, Any]) -> Category:
    """Add a category at the end of the gala's order. Raises LockedError once voting opened."""
    clean = clean_category(data)
    with write_transaction() as session:
        gala = get_existing(Gala, gala_id)
        ensure_unlocked(gala)
        if _slug_taken(session, gala.id, clean["slug"]):
            raise _field_error("slug", _l("Another category already uses this address."))
        last = session.scalar(
            select(func.max(Category.position)).where(Category.gala_id == gala.id))
        category = Category(gala=gala, position=(last or 0) + 1, **_category_values(clean))
        category.groups = [CategoryGroup(group=g, weight=w) for g, w in clean["weights"].items()]
        session.add(category)
        _flush_unique(session, "slug", _l("Another category already uses this address."))
        audit.record(actor, "category.create", gala_id=gala.id, subject=category.slug,
                     details=clean)
    return category


# What may still change once the vote has opened: the words, never the rules (the award
# kind and the ex aequo rule included). Whether exact figures go public is no rule of the
# count: the results page switches it after the reveal.
_CATEGORY_TEXT_FIELDS = ("name_pl", "name_en", "description_pl", "description_en")
_CATEGORY_FREE_FIELDS = (*_CATEGORY_TEXT_FIELDS, "public_figures")


def update_category(actor: str, category_id: int, data: dict[str, Any]) -> Category:
    """Change a category. After opening only its names and descriptions (and whether its
    exact figures are public) may change; anything else raises LockedError."""
    clean = clean_category(data)
    with write_transaction() as session:
        category = get_existing(Category, category_id)
        if category.gala.locked:
            rules_before = (category.slug, category.method, category.params(), category.weights(),
                            category.award, category.ex_aequo)
            probe = {**_category_values(clean)}
            rules_after = (probe["slug"], probe["method"], _params_of(probe), clean["weights"],
                           probe["award"], probe["ex_aequo"])
            if rules_before != rules_after:
                ensure_unlocked(category.gala)
            changes = _apply(category, {k: clean[k] for k in _CATEGORY_FREE_FIELDS if k in clean})
        else:
            if _slug_taken(session, category.gala_id, clean["slug"], category.id):
                raise _field_error("slug", _l("Another category already uses this address."))
            changes = _apply(category, _category_values(clean))
            if category.weights() != clean["weights"]:
                changes["weights"] = clean["weights"]
                category.groups.clear()
                session.flush()
                category.groups.extend(
                    CategoryGroup(group=g, weight=w) for g, w in clean["weights"].items()
                )
            _flush_unique(session, "slug", _l("Another category already uses this address."))
        audit.record(actor, "category.update", gala_id=category.gala_id, subject=category.slug,
                     details=changes)
    return category


def _params_of(values: dict[str, Any]) -> dict[str, Any]:
    probe = Category(**values)
    return probe.params()


def delete_category(actor: str, category_id: int) -> None:
    with write_transaction() as session:
        category = get_existing(Category, category_id)
        ensure_unlocked(category.gala)
        audit.record(actor, "category.delete", gala_id=category.gala_id, subject=category.slug,
                     details={"nominations": len(category.nominations)})
        session.delete(category)


def move_category(actor: str, category_id: int, offset: int) -> None:
    """Move a category up (offset -1) or down (+1) in the gala's running order."""
    with write_transaction():
        category = get_existing(Category, category_id)
        order = list(category.gala.categories)
        index = order.index(category)
        target = max(0, min(len(order) - 1, index + offset))
        if target == index:
            return
        order.insert(target, order.pop(index))
        for position, item in enumerate(order, start=1):
            item.position = position
        audit.record(actor, "category.move", gala_id=category.gala_id, subject=category.slug,
                     details={"position": target + 1})


# --- Profiles ------------------------------------------------------------------------------


def _url_taken(session: Any, gala_id: int, url: str, exclude_id: int | None = None) -> bool:
    query = select(Profile.id).where(Profile.gala_id == gala_id, Profile.url == url)
    if exclude_id is not None:
        query = query.where(Profile.id != exclude_id)
    return session.scalar(query) is not None


_URL_TAKEN = _l("Another nominee profile in this gala already has this address.")


def create_profile(actor: str, gala_id: int, data: dict[str, Any],
                   image: bytes | None = None, max_image_bytes: int = 2 * 1024 * 1024) -> Profile:
    """Add a nominee profile; an image, if given, is checked by content and size."""
    clean = clean_profile(data)
    image_type = check_image(image, max_image_bytes) if image else None
    with write_transaction() as session:
        gala = get_existing(Gala, gala_id)
        if _url_taken(session, gala.id, clean["url"]):
            raise _field_error("url", _URL_TAKEN)
        profile = Profile(gala=gala, **clean)
        if image:
            profile.image_data, profile.image_type, profile.image_version = image, image_type, 1
        session.add(profile)
        _flush_unique(session, "url", _URL_TAKEN)
        audit.record(actor, "profile.create", gala_id=gala.id, subject=profile.name,
                     details={**clean, "image": image_type})
    return profile


# Once voting opened, a nominated profile must stay the same profile: wording can be
# corrected, but it cannot be turned into another account.
_PROFILE_IDENTITY_FIELDS = ("url", "platform", "unit_type")


def update_profile(actor: str, profile_id: int, data: dict[str, Any], image: bytes | None = None,
                   remove_image: bool = False, max_image_bytes: int = 2 * 1024 * 1024) -> Profile:
    """Change a profile. Raises ValidationError; LockedError when voting has opened and a
    nominated profile's address, platform or unit type would change."""
    clean = clean_profile(data)
    image_type = check_image(image, max_image_bytes) if image else None
    with write_transaction() as session:
        profile = get_existing(Profile, profile_id)
        if profile.nominations and any(getattr(profile, field) != clean[field]
                                       for field in _PROFILE_IDENTITY_FIELDS):
            ensure_unlocked(profile.gala)
        if _url_taken(session, profile.gala_id, clean["url"], profile.id):
            raise _field_error("url", _URL_TAKEN)
        changes = _apply(profile, clean)
        if image:
            profile.image_data, profile.image_type = image, image_type
            profile.image_version += 1
            changes["image"] = image_type
        elif remove_image and profile.image_type:
            profile.image_data, profile.image_type = None, None
            profile.image_version += 1
            changes["image"] = None
        _flush_unique(session, "url", _URL_TAKEN)
        audit.record(actor, "profile.update", gala_id=profile.gala_id, subject=profile.name,
                     details=changes)
    return profile


def delete_profile(actor: str, profile_id: int) -> None:
    """Delete a profile with its nominations; refused once voting opened if it is nominated."""
    with write_transaction() as session:
        profile = get_existing(Profile, profile_id)
        if profile.nominations:
            ensure_unlocked(profile.gala)
        audit.record(actor, "profile.delete", gala_id=profile.gala_id, subject=profile.name,
                     details={"url": profile.url, "nominations": len(profile.nominations)})
        session.delete(profile)


# --- Nominations ---------------------------------------------------------------------------


def nominate(actor: str, category_id: int, profile_id: int, citation: str = "") -> Nomination:
    """Nominate a profile in a category, at most once. Raises ConflictError, LockedError."""
    citation = clean_citation(citation)
    with write_transaction() as session:
        category = get_existing(Category, category_id)
        profile = get_existing(Profile, profile_id)
        if profile.gala_id != category.gala_id:
            raise _field_error("profile_id", _l("This profile belongs to another gala."))
        ensure_unlocked(category.gala)
        exists = session.scalar(select(Nomination.id).where(
            Nomination.category_id == category.id, Nomination.profile_id == profile.id))
        if exists is not None:
            raise ConflictError(str(_l("%(name)s is already nominated in this category.",
                                       name=profile.name)))
        nomination = Nomination(category=category, profile=profile, citation=citation)
        session.add(nomination)
        _flush_unique(session, "profile_id", _l("Already nominated in this category."))
        audit.record(actor, "nomination.create", gala_id=category.gala_id,
                     subject=f"{category.slug}: {profile.name}",
                     details={"category": category.slug, "profile_id": profile.id,
                              "citation": citation})
    return nomination


def update_citation(actor: str, nomination_id: int, citation: str) -> Nomination:
    """Correct a nomination's citation (allowed after opening too: it is wording)."""
    citation = clean_citation(citation)
    with write_transaction():
        nomination = get_existing(Nomination, nomination_id)
        nomination.citation = citation
        audit.record(actor, "nomination.update", gala_id=nomination.category.gala_id,
                     subject=f"{nomination.category.slug}: {nomination.profile.name}",
                     details={"citation": citation})
    return nomination


def withdraw_nomination(actor: str, nomination_id: int) -> None:
    """Remove a nomination. Raises LockedError once voting opened."""
    with write_transaction() as session:
        nomination = get_existing(Nomination, nomination_id)
        ensure_unlocked(nomination.category.gala)
        audit.record(actor, "nomination.delete", gala_id=nomination.category.gala_id,
                     subject=f"{nomination.category.slug}: {nomination.profile.name}")
        session.delete(nomination)


# --- Organizers ----------------------------------------------------------------------------

# No 0/o, 1/l/i: a generated password is read off a screen and typed on a phone.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105  (letters, no password)


def generate_password() -> str:
    """A new organizer's password: four groups of four (about 79 bits), easy to type."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4))
                    for _ in range(4))


def _role_error(role: str) -> str | None:
    if role in ROLES:
        return None
    return str(_l("Choose one of the roles: %(roles)s.",
                  roles=", ".join(str(ROLE_NAMES[r]) for r in ROLES)))


def create_organizer(actor: str, email: str, password: str, role: str = ADMIN) -> Organizer:
    """Create an organizer account with a role (admin by default: the first account made from
    the command line must be able to assign the others).

    Raises ValidationError naming every bad field (e-mail, a password shorter than
    MIN_PASSWORD_LENGTH, an unknown role, an e-mail already taken); nothing is created then.
    The audit entry names the role, never the password.
    """
    errors: dict[str, Any] = {}
    try:
        email = clean_email(email)
    except ValidationError as error:
        errors.update(error.errors)
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = _l("A password needs at least %(n)d characters.",
                                n=MIN_PASSWORD_LENGTH)
    if (reason := _role_error(role)) is not None:
        errors["role"] = reason
    if errors:
        raise ValidationError(str(next(iter(errors.values()))), errors)
    with write_transaction() as session:
        if session.scalar(select(Organizer.id).where(Organizer.email == email)) is not None:
            raise _field_error("email", _l("An organizer with this e-mail already exists."))
        organizer = Organizer(email=email, password_hash=password_hasher.hash(password),
                              role=role)
        session.add(organizer)
        _flush_unique(session, "email", _l("An organizer with this e-mail already exists."))
        audit.record(actor, "organizer.create", subject=email, details={"role": role})
    return organizer


def list_organizers() -> list[Organizer]:
    """Every organizer, those who can log in first, by e-mail."""
    return list(db.session.scalars(select(Organizer).order_by(Organizer.active.desc(),
                                                              Organizer.email)))


def _find_organizer(session: Any, email_or_id: str | int) -> Organizer:
    if isinstance(email_or_id, int):
        return get_existing(Organizer, email_or_id)
    email = clean_email(email_or_id)
    organizer = session.scalar(select(Organizer).where(Organizer.email == email))
    if organizer is None:
        raise NotFoundError(str(_l("No organizer with this e-mail.")))
    return organizer


def _keep_an_admin(session: Any, actor: str, organizer: Organizer, role: str,
                   active: bool) -> None:
    """Refuse what would lock the acting organizer out, or leave nobody to assign roles.

    Runs inside the serialised write transaction, so two admins demoting each other at the
    same moment cannot both succeed."""
    if organizer.email == actor:
        raise ConflictError(str(_l(
            "You cannot change your own role or deactivate yourself: ask another "
            "administrator.")))
    if organizer.role != ADMIN or not organizer.active or (role == ADMIN and active):
        return
    others = session.scalar(select(func.count()).select_from(Organizer).where(
        Organizer.role == ADMIN, Organizer.active, Organizer.id != organizer.id))
    if not others:
        raise ConflictError(str(_l(
            "%(email)s is the last active administrator: make someone else an administrator "
            "first, so that somebody can still assign roles.", email=organizer.email)))


def set_organizer_role(actor: str, email_or_id: str | int, role: str) -> Organizer:
    """Give an organizer another role; it applies from their next click.

    Raises ValidationError for an unknown role, NotFoundError for an unknown organizer and
    ConflictError for a change of one's own role or one that would leave no active admin.
    """
    if (reason := _role_error(role)) is not None:
        raise _field_error("role", reason)
    with write_transaction() as session:
        organizer = _find_organizer(session, email_or_id)
        if organizer.role == role:
            return organizer
        _keep_an_admin(session, actor, organizer, role, organizer.active)
        audit.record(actor, "organizer.role", subject=organizer.email,
                     details={"from": organizer.role, "to": role})
        organizer.role = role
    return organizer


def set_organizer_active(actor: str, email_or_id: str | int, active: bool, *,
                         keep_an_admin: bool = True) -> Organizer:
    """Let an organizer log in again, or not any more (their history stays; a session they
    have open ends at their next click).

    Raises ConflictError for deactivating oneself or the last active admin, unless
    `keep_an_admin` is off: the command line's operator can always bring an admin back.
    """
    with write_transaction() as session:
        organizer = _find_organizer(session, email_or_id)
        if keep_an_admin and organizer.active and not active:
            _keep_an_admin(session, actor, organizer, organizer.role, active)
        organizer.active = active
        audit.record(actor, "organizer.activate" if active else "organizer.deactivate",
                     subject=organizer.email)
    return organizer


def authenticate(email: str, password: str, client: str) -> Organizer | None:
    """Return the active organizer whose password matches, recording the attempt either way."""
    try:
        email = clean_email(email)
    except ValidationError:
        email = ""
    organizer = (db.session.scalar(select(Organizer).where(Organizer.email == email))
                 if email else None)
    try:
        password_hasher.verify(organizer.password_hash if organizer else _DUMMY_HASH, password)
        matched = organizer is not None and organizer.active
    except (VerificationError, InvalidHashError):
        matched = False
    with write_transaction():
        if matched:
            organizer = get_existing(Organizer, organizer.id)
            organizer.last_login_at = utcnow()
            if password_hasher.check_needs_rehash(organizer.password_hash):
                organizer.password_hash = password_hasher.hash(password)
            audit.record(organizer.email, "organizer.login", details={"client": client})
        else:
            audit.record(email or "?", "organizer.login_failed", details={"client": client})
    return organizer if matched else None


def record_logout(actor: str) -> None:
    with write_transaction():
        audit.record(actor, "organizer.logout")


def ensure_demo_organizer(instance_path: str) -> tuple[str, str, bool]:
    """Make sure the demo organizer exists; its password lives only in the instance folder.

    Returns (email, password, created). The password is generated on first start and the same
    one is returned on every later start, so the start command can print it.
    """
    from config import instance_secret

    password = instance_secret(instance_path, DEMO_PASSWORD_FILE, nbytes=12)
    existing = db.session.scalar(select(Organizer).where(Organizer.email == DEMO_ORGANIZER_EMAIL))
    if existing is not None:
        try:
            password_hasher.verify(existing.password_hash, password)
        except (VerificationError, InvalidHashError):
            password = ""  # changed by hand since: we no longer know it, and must not reset it
        return DEMO_ORGANIZER_EMAIL, password, False
    create_organizer("cli:demo", DEMO_ORGANIZER_EMAIL, password)
    return DEMO_ORGANIZER_EMAIL, password, True


def demo_password_path(instance_path: str) -> Path:
    return Path(instance_path) / DEMO_PASSWORD_FILE


# --- helpers -------------------------------------------------------------------------------


def _apply(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set attributes and return what actually changed (for the audit trail)."""
    changes = {}
    for key, value in values.items():
        if getattr(obj, key) != value:
            changes[key] = value
            setattr(obj, key, value)
    return changes


def _flush_unique(session: Any, field: str, message: Any) -> None:
    """Flush, turning a unique-constraint race lost to another request into a field error."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as error:
        raise _field_error(field, message) from error


