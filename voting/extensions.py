"""Flask extensions, created unbound and bound to the app in `create_app`."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Constraint names are fixed by convention so migrations name them the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def client_address() -> str:
    return get_remote_address() or "unknown"


def login_throttle_key() -> str:
    """Failed logins count per account *and* client address.

    An attacker elsewhere exhausts only their own (account, address) budget, so the real
    organizer, logging in from the hall, is never locked out by someone else's guessing.
    """
    from .errors import ValidationError
    from .validation import clean_email

    typed = (request.form.get("email") or "")[:320]
    try:
        # The same normalisation as the login itself, so "Chair@ＥXAMPLE.com" and
        # "chair@example.com" share one budget instead of each getting their own.
        account = clean_email(typed)
    except ValidationError:
        account = typed.strip().casefold()
    return f"login:{client_address()}:{account}"


limiter = Limiter(key_func=client_address, default_limits=[], headers_enabled=True)
