"""Read-only questions about the gala, shared by the admin, the public pages and the API."""

from __future__ import annotations

from typing import Any

from flask_babel import get_locale, gettext
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import selectinload

from .extensions import db
from .models import CURRENT_GALA_ORDER, AuditEntry, Category, Gala, Nomination, Profile

MIN_NOMINEES = 2
MIN_DECISION_NOMINEES = 1


def current_gala() -> Gala | None:
    """The current gala, its passed scheduled close recorded (and its results sealed)."""
    from .window import settle_if_due

    return settle_if_due(Gala.current())


# What casting a ballot reads of the gala, without building an ORM object on the hot path.
_CURRENT_GALA_WINDOW = (select(Gala.id, Gala.voting_state, Gala.closes_at, Gala.first_opened_at)
                        .order_by(*CURRENT_GALA_ORDER).limit(1))


def current_gala_window() -> Row | None:
    """The current gala's id and voting window (state, closing time, first opening)."""
    return db.session.execute(_CURRENT_GALA_WINDOW).first()


def all_galas() -> list[Gala]:
    return list(db.session.scalars(select(Gala).order_by(Gala.year.desc())))


def categories_with_nominees(gala: Gala) -> list[Category]:
    """The gala's categories in running order, nominations and profiles loaded in one go."""
    return list(db.session.scalars(
        select(Category)
        .where(Category.gala_id == gala.id)
        .order_by(Category.position, Category.id)
        .options(
            selectinload(Category.groups),
            selectinload(Category.nominations).selectinload(Nomination.profile),
        )
    ))


def profile_count(gala: Gala) -> int:
    return db.session.scalar(select(func.count(Profile.id)).where(Profile.gala_id == gala.id))


def profiles_of(gala: Gala) -> list[Profile]:
    return list(db.session.scalars(
        select(Profile)
        .where(Profile.gala_id == gala.id)
        .order_by(func.lower(Profile.name), Profile.id)
        .options(selectinload(Profile.nominations).selectinload(Nomination.category))
    ))


def audit_entries_in_order() -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def audit_entries_newest_first() -> Select:
    """A query (not its rows): the admin pages through it."""
    return select(AuditEntry).order_by(AuditEntry.seq.desc())


def readiness(gala: Gala, categories: list[Category] | None = None) -> list[str]:
    """What is still missing before voting can open, one message per problem.

    The messages are plain strings, never lazy ones: Jinja trusts a lazy string as HTML
    (`__html__`), and these carry category names as organizers typed them.
    """
    problems: list[str] = []
    if categories is None:
        categories = categories_with_nominees(gala)
    locale = str(get_locale() or "pl")
    if not categories:
        problems.append(gettext("The gala has no categories yet."))
    elif not any(category.balloted for category in categories):
        problems.append(gettext("Every category is decided by the chapter: there is nothing "
                                "to vote on. Add a category decided by ballot."))
    for category in categories:
        count = len(category.nominations)
        name = category.name(locale)
        if not category.balloted:
            # The chapter decides among its nominees after the close: one is enough.
            if count < MIN_DECISION_NOMINEES:
                problems.append(gettext("“%(name)s” needs at least one nominee.", name=name))
            if category.groups:
                problems.append(gettext("“%(name)s” is decided by the chapter, so it cannot "
                                        "have voter groups.", name=name))
            continue
        if count < MIN_NOMINEES:
            problems.append(gettext("“%(name)s” needs at least %(min)d nominees (has %(count)d).",
                                    name=name, min=MIN_NOMINEES, count=count))
        elif category.method in ("ranked", "irv") and (category.places or 0) > count:
            problems.append(gettext("“%(name)s” asks for %(places)d places but has only "
                                    "%(count)d nominees.", name=name, places=category.places,
                                    count=count))
        if not category.groups:
            problems.append(gettext("“%(name)s” has no voter group.", name=name))
    return problems


def gala_document(gala: Gala, locale: str) -> dict[str, Any]:
    """The public description of the gala: what `GET /api/v1/gala` returns."""
    return {
        "gala": {
            "name": gala.name,
            "date": gala.date.isoformat(),
            "venue": gala.venue,
            "voting": gala.voting_state,
            "closes_at": gala.closes_at.isoformat() if gala.closes_at else None,
        },
        "categories": [
            {
                "slug": category.slug,
                "name": category.name(locale),
                "description": category.description(locale),
                "award": category.award,
                "method": category.method,
                "ex_aequo": category.ex_aequo,
                "params": category.params(),
                "groups": [group.group for group in category.groups],
                "weights": category.weights() if len(category.groups) > 1 else None,
                "nominees": [
                    {
                        "id": nomination.id,
                        "profile_id": nomination.profile_id,
                        "name": nomination.profile.name,
                        "unit": nomination.profile.unit_name,
                        "platform": nomination.profile.platform,
                        "url": nomination.profile.url,
                    }
                    for nomination in category.sorted_nominations()
                ],
            }
            for category in categories_with_nominees(gala)
        ],
    }
