"""Configuration of Złote Lajki, read from the environment.

`Config` is the embedded default (SQLite in the instance folder); `ProductionConfig` refuses to
start without the secrets it needs; `TestingConfig` is what the test suite starts from.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def instance_secret(instance_path: str, name: str, nbytes: int = 32) -> str:
    """Return a random secret kept in the instance folder, creating it once.

    Several workers may start at the same moment: each writes its candidate to a private
    temporary file and hard-links it into place; the link fails for all but the first, and
    every worker then reads the one file that won, so all of them agree on one key.
    """
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        candidate = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(nbytes))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(candidate, target)
        except FileExistsError:
            pass
        finally:
            candidate.unlink()
    return target.read_text().strip()


class Config:
    """The embedded default: SQLite in the instance folder, secrets generated on first start."""

    ENV_NAME = "default"
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # Cards have keys of their own. Signing keys, oldest first: append one to rotate (cards
    # signed with any listed key stay valid). The hash key turns card secrets into the
    # digests stored in the database: it must never change while cards are out.
    CARD_SIGNING_KEYS = [k.strip() for k in os.environ.get("CARD_SIGNING_KEYS", "").split(",")
                         if k.strip()] or None
    CARD_HASH_KEY = os.environ.get("CARD_HASH_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None  # None: SQLite in instance
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 5000)
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:5000").rstrip("/")

    # Cookies: never readable from JavaScript, not sent on cross-site POSTs, Secure when the
    # public address is HTTPS (behind a reverse proxy the app itself may only see HTTP).
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", PUBLIC_BASE_URL.startswith("https://"))
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 4 * 1024 * 1024)
    MAX_IMAGE_BYTES = _env_int("MAX_IMAGE_BYTES", 2 * 1024 * 1024)

    # Number of proxies in front of the app per header; 0 disables ProxyFix for that header.
    PROXY_FIX_X_FOR = _env_int("PROXY_FIX_X_FOR", 0)
    PROXY_FIX_X_PROTO = _env_int("PROXY_FIX_X_PROTO", 0)
    PROXY_FIX_X_HOST = _env_int("PROXY_FIX_X_HOST", 0)

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_FAILURE_LIMIT = os.environ.get("LOGIN_FAILURE_LIMIT", "5 per 15 minutes")
    # Wrong card codes or links allowed per client address: a whole hall shares the venue's
    # one address, so this stays generous (at least 60 a minute).
    CARD_FAILURE_LIMIT = os.environ.get("CARD_FAILURE_LIMIT", "120 per minute")
    # Wrong card codes from everyone together above which the admin shows an alarm.
    CARD_FAILURE_ALARM = os.environ.get("CARD_FAILURE_ALARM", "200 per 5 minutes")

    BABEL_DEFAULT_LOCALE = "pl"
    BABEL_DEFAULT_TIMEZONE = "Europe/Warsaw"
    LANGUAGES = ("pl", "en")

    WTF_CSRF_TIME_LIMIT = 8 * 3600  # an organizer's form may stay open through a long rehearsal

    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Only the embedded default may create a demo organizer.
    ALLOW_DEMO_ORGANIZER = True


class ProductionConfig(Config):
    """Several workers or hosts on PostgreSQL; nothing secret may be invented here."""

    ENV_NAME = "production"
    ALLOW_DEMO_ORGANIZER = False
    REQUIRED_ENVIRONMENT = ("SECRET_KEY", "CARD_SIGNING_KEYS", "CARD_HASH_KEY")


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    RATELIMIT_STORAGE_URI = "memory://"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False


CONFIGS = {"default": Config, "production": ProductionConfig, "testing": TestingConfig}
