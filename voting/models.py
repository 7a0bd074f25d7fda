"""The gala's data model (SQLAlchemy 2 typed style). The schema is built only by migrations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    case,
    select,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .extensions import db

VOTING_STATES = ("draft", "open", "closed")
# "decision": decided by the chapter (the jury chair records it), never on a ballot.
METHODS = ("single", "ranked", "score", "approval", "irv", "decision")
BALLOT_METHODS = ("single", "ranked", "score", "approval", "irv")
# What a category awards: a Golden Like, an honourable mention (wyróżnienie), a special award.
AWARDS = ("award", "mention", "special")
ROLES = ("admin", "chair", "desk", "presenter")
SEAL_EVENTS = ("seal", "decision", "retally")
VOTER_GROUPS = ("jury", "audience")
UNIT_TYPES = ("gmina", "miasto", "powiat", "wojewodztwo", "other")
PLATFORMS = (
    "facebook",
    "instagram",
    "tiktok",
    "youtube",
    "linkedin",
    "x",
    "threads",
    "bluesky",
    "website",
    "other",
)
VOIVODESHIPS = (
    "dolnośląskie",
    "kujawsko-pomorskie",
    "lubelskie",
    "lubuskie",
    "łódzkie",
    "małopolskie",
    "mazowieckie",
    "opolskie",
    "podkarpackie",
    "podlaskie",
    "pomorskie",
    "śląskie",
    "świętokrzyskie",
    "warmińsko-mazurskie",
    "wielkopolskie",
    "zachodniopomorskie",
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on SQLite (which stores naive text) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Gala(db.Model):
    """One edition of the gala. One per year; the one chosen last (or created last) is current."""

    __tablename__ = "gala"
    __table_args__ = (
        CheckConstraint(_in("voting_state", VOTING_STATES), name="voting_state"),
        CheckConstraint("year >= 2000 AND year <= 2200", name="year_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    date: Mapped[dt.date] = mapped_column(Date)
    venue: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Warsaw")
    voting_state: Mapped[str] = mapped_column(String(10), default="draft")
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_opened_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the organizer published the receipts of counted ballots (after closing).
    receipts_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the results were sealed (once, at the close) and the ballot box they were
    # counted from: the fingerprint of its anonymised export (see `voting.results`).
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ballot_box_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # The reveal on the big screen (`voting.reveal`): the step shown (None: not started),
    # whether the screen is blanked, and a counter every change raises, which displays poll.
    reveal_position: Mapped[int | None] = mapped_column(Integer)
    reveal_blank: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    reveal_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set when an organizer picks this edition (by switching to it or creating it in the
    # admin). The most recently picked edition is current; with none picked, the newest year.
    # An import never takes over the public pages by itself.
    current_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    categories: Mapped[list[Category]] = relationship(
        back_populates="gala",
        order_by="(Category.position, Category.id)",
        cascade="all, delete-orphan",
    )
    profiles: Mapped[list[Profile]] = relationship(
        back_populates="gala", cascade="all, delete-orphan", order_by="Profile.name"
    )

    @property
    def locked(self) -> bool:
        """Nominees and methods are frozen for good from the first opening of the vote on."""
        return self.first_opened_at is not None

    @classmethod
    def current(cls) -> Gala | None:
        """The gala whose vote is open (there is at most one); else the edition an organizer
        last picked; else the newest year. One query: every ballot asks it."""
        return db.session.scalars(_CURRENT_GALA).first()


CURRENT_GALA_ORDER = (case((Gala.voting_state == "open", 0), else_=1),
                      Gala.current_since.desc().nulls_last(), Gala.year.desc(), Gala.id.desc())
_CURRENT_GALA = select(Gala).order_by(*CURRENT_GALA_ORDER).limit(1)


class Category(db.Model):
    __tablename__ = "category"
    __table_args__ = (
        UniqueConstraint("gala_id", "slug"),
        CheckConstraint(_in("method", METHODS), name="method"),
        CheckConstraint("places IS NULL OR (places >= 1 AND places <= 20)", name="places"),
        CheckConstraint(
            "score_min IS NULL OR score_max IS NULL OR score_min < score_max", name="score_range"
        ),
        CheckConstraint("min_scores IS NULL OR min_scores >= 0", name="min_scores"),
        CheckConstraint("max_choices IS NULL OR max_choices >= 1", name="max_choices"),
        CheckConstraint(_in("award", AWARDS), name="award"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gala_id: Mapped[int] = mapped_column(ForeignKey("gala.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_pl: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description_pl: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str] = mapped_column(String(10))
    # ranked / irv: how many places a ballot fills; ranked also has the points per place.
    places: Mapped[int | None] = mapped_column(Integer)
    points_json: Mapped[str | None] = mapped_column("points", String(200))
    # score: the range and the minimum number of scores a nominee needs to be eligible.
    score_min: Mapped[int | None] = mapped_column(Integer)
    score_max: Mapped[int | None] = mapped_column(Integer)
    min_scores: Mapped[int | None] = mapped_column(Integer)
    # approval: the most nominees one ballot may approve (None: no limit).
    max_choices: Mapped[int | None] = mapped_column(Integer)
    award: Mapped[str] = mapped_column(String(10), default="award", server_default="award")
    # Whether the rules let the jury chair declare joint winners (ex aequo) in a tie.
    ex_aequo: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Small juries: exact figures (votes, points, scores) go public only when this is on.
    public_figures: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    revealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    gala: Mapped[Gala] = relationship(back_populates="categories")
    groups: Mapped[list[CategoryGroup]] = relationship(
        back_populates="category", cascade="all, delete-orphan",
        order_by="CategoryGroup.group.desc()",  # "jury" before "audience", as the gala says it
    )
    nominations: Mapped[list[Nomination]] = relationship(
        back_populates="category", cascade="all, delete-orphan"
    )
    seals: Mapped[list[ResultSeal]] = relationship(
        back_populates="category", cascade="all, delete-orphan", order_by="ResultSeal.version"
    )

    @property
    def balloted(self) -> bool:
        """Decided on ballots (every method but the chapter's own decision)."""
        return self.method != "decision"

    @property
    def points(self) -> list[int] | None:
        return json.loads(self.points_json) if self.points_json else None

    @points.setter
    def points(self, value: list[int] | None) -> None:
        self.points_json = json.dumps(list(value)) if value else None

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_pl

    def description(self, locale: str) -> str:
        if locale == "en" and self.description_en:
            return self.description_en
        return self.description_pl

    def params(self) -> dict[str, Any]:
        """The method's parameters as the API and the export show them."""
        if self.method == "ranked":
            return {"places": self.places, "points": self.points}
        if self.method == "irv":
            return {"places": self.places}
        if self.method == "score":
            return {"min": self.score_min, "max": self.score_max, "min_scores": self.min_scores}
        if self.method == "approval":
            return {"max_choices": self.max_choices}
        return {}

    def weights(self) -> dict[str, int]:
        return {group.group: group.weight for group in self.groups}

    def sorted_nominations(self) -> list[Nomination]:
        return sorted(self.nominations, key=lambda n: (n.profile.name.casefold(), n.id))


class CategoryGroup(db.Model):
    """A voter group that votes in a category, with its weight in percent."""

    __tablename__ = "category_group"
    __table_args__ = (
        UniqueConstraint("category_id", "group"),
        CheckConstraint(_in('"group"', VOTER_GROUPS), name="group"),
        CheckConstraint("weight >= 1 AND weight <= 100", name="weight"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(20))
    weight: Mapped[int] = mapped_column(Integer, default=100)

    category: Mapped[Category] = relationship(back_populates="groups")


class Profile(db.Model):
    """A nominee: a local government's social-media profile (or a mayor's own)."""

    __tablename__ = "profile"
    __table_args__ = (
        UniqueConstraint("gala_id", "url"),
        CheckConstraint(_in("unit_type", UNIT_TYPES), name="unit_type"),
        CheckConstraint(_in("platform", PLATFORMS), name="platform"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gala_id: Mapped[int] = mapped_column(ForeignKey("gala.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    unit_name: Mapped[str] = mapped_column(String(200))
    unit_type: Mapped[str] = mapped_column(String(20))
    voivodeship: Mapped[str | None] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(100), default="")
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    is_demo: Mapped[bool] = mapped_column(default=False)
    image_type: Mapped[str | None] = mapped_column(String(40))
    image_data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    image_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    gala: Mapped[Gala] = relationship(back_populates="profiles")
    nominations: Mapped[list[Nomination]] = relationship(
        back_populates="profile", cascade="all, delete-orphan"
    )


class Nomination(db.Model):
    """A profile nominated in a category; its id is the nominee id the API and ballots use."""

    __tablename__ = "nomination"
    __table_args__ = (
        UniqueConstraint("category_id", "profile_id"),
        # The target of a ballot choice's (nomination, category) key: the database itself
        # refuses a vote for a nominee in a category it is not nominated in.
        UniqueConstraint("id", "category_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), index=True
    )
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("profile.id", ondelete="CASCADE"), index=True
    )
    citation: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    category: Mapped[Category] = relationship(back_populates="nominations")
    profile: Mapped[Profile] = relationship(back_populates="nominations")


class Token(db.Model):
    """A printed card: good for one ballot. Only digests of its secrets are kept.

    Nothing links a card to the ballot cast with it: `used_at` records *that* it voted.
    """

    __tablename__ = "token"
    __table_args__ = (
        CheckConstraint(_in('"group"', VOTER_GROUPS), name="group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    gala_id: Mapped[int] = mapped_column(ForeignKey("gala.id", ondelete="CASCADE"), index=True)
    group: Mapped[str] = mapped_column(String(20))
    label: Mapped[str] = mapped_column(String(200), default="")
    # The random id of the admin form that issued the card: a form sent twice (a reload, a
    # double click) is recognised and issues nothing more. Says nothing about any ballot.
    batch: Mapped[str | None] = mapped_column(String(32), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    recusals: Mapped[list[TokenRecusal]] = relationship(
        back_populates="token", cascade="all, delete-orphan")


class TokenRecusal(db.Model):
    """Whom a card's holder may not vote for: one profile, or every profile of a unit."""

    __tablename__ = "token_recusal"
    __table_args__ = (
        CheckConstraint("(profile_id IS NULL) <> (unit_name IS NULL)", name="one_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("token.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[int | None] = mapped_column(ForeignKey("profile.id", ondelete="CASCADE"))
    unit_name: Mapped[str | None] = mapped_column(String(200))

    token: Mapped[Token] = relationship(back_populates="recusals")


class Ballot(db.Model):
    """One cast ballot. Random id, no timestamp, no reference to the card that cast it.

    On SQLite the table is WITHOUT ROWID, so rows are kept in the order of their random ids,
    not in the order they were cast.
    """

    __tablename__ = "ballot"
    __table_args__ = (
        CheckConstraint(_in('"group"', VOTER_GROUPS), name="group"),
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    gala_id: Mapped[int] = mapped_column(ForeignKey("gala.id", ondelete="CASCADE"), index=True)
    group: Mapped[str] = mapped_column(String(20))
    receipt: Mapped[str] = mapped_column(String(20), unique=True)

    choices: Mapped[list[BallotChoice]] = relationship(
        back_populates="ballot", cascade="all, delete-orphan")


class BallotChoice(db.Model):
    """One mark on a ballot: a nominee chosen, ranked at a place, or given a score."""

    __tablename__ = "ballot_choice"
    __table_args__ = (
        ForeignKeyConstraint(["nomination_id", "category_id"],
                             ["nomination.id", "nomination.category_id"],
                             name="fk_ballot_choice_nomination_in_category"),
        # One nominee once per ballot, one nominee per place.
        UniqueConstraint("ballot_id", "category_id", "place"),
        CheckConstraint("place IS NULL OR place >= 1", name="place"),
        {"sqlite_with_rowid": False},
    )

    ballot_id: Mapped[str] = mapped_column(
        ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(primary_key=True)
    place: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[int | None] = mapped_column(Integer)

    ballot: Mapped[Ballot] = relationship(back_populates="choices")


class ResultSeal(db.Model):
    """One sealed version of a category's result: recorded, never changed.

    Version 1 is sealed at the close; a tie decided by the chair or a re-tally adds the next
    version with a new commitment. `result` is the canonical public result and `figures` the
    exact tally; each is committed to with its own random nonce (see `voting.results`).
    """

    __tablename__ = "result_seal"
    __table_args__ = (
        UniqueConstraint("category_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(_in("event", SEAL_EVENTS), name="event"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(10))
    result: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    figures: Mapped[str] = mapped_column(Text)
    figures_nonce: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    category: Mapped[Category] = relationship(back_populates="seals")


class DisplayLink(db.Model):
    """A read-only link for a screen (the projector, a broadcast graphics machine): it shows
    the display and nothing else, needs no login, and can be revoked."""

    __tablename__ = "display_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Organizer(UserMixin, db.Model):
    __tablename__ = "organizer"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # admin: everything; chair: results, tie decisions, protocol; desk: cards;
    # presenter: drives the reveal. See `voting.roles`.
    role: Mapped[str] = mapped_column(String(10), default="admin", server_default="admin")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive organizers
        return self.active


class AuditEntry(db.Model):
    """One line of the append-only, hash-chained audit trail.

    `seq` is unique and each entry names its predecessor's hash, so two appends can never
    share a predecessor (the chain cannot fork) and an edited or removed entry breaks it.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (CheckConstraint("seq >= 1", name="seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    gala_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300), default="")
    details_json: Mapped[str] = mapped_column("details", Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    @property
    def details(self) -> dict[str, Any]:
        return json.loads(self.details_json)


__all__ = [
    "AuditEntry",
    "Category",
    "Ballot",
    "BallotChoice",
    "CategoryGroup",
    "DisplayLink",
    "Gala",
    "Nomination",
    "Organizer",
    "Profile",
    "ResultSeal",
    "Token",
    "TokenRecusal",
]
