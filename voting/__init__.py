"""Złote Lajki: the voting system of the Golden Likes gala."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from .extensions import babel, csrf, db, limiter, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """The visitor's switch, else English if the browser asks for it, else Polish."""
    from flask import has_request_context

    if not has_request_context():
        return "pl"
    asked = request.args.get("lang")
    if asked in ("pl", "en") and request.path.startswith("/api/"):
        return asked
    chosen = session.get("lang")
    if chosen in ("pl", "en"):
        return chosen
    return request.accept_languages.best_match(("pl", "en"), default="pl") or "pl"


def _load_config(app: Flask, config: Any) -> None:
    from config import CONFIGS, instance_secret

    name = os.environ.get("APP_CONFIG", "default")
    if name not in CONFIGS:
        raise RuntimeError(f"APP_CONFIG must be one of {', '.join(CONFIGS)}, not {name!r}")
    base = CONFIGS[name]
    if isinstance(config, type):
        base, config = config, None
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)

    missing = [key for key in getattr(base, "REQUIRED_ENVIRONMENT", ()) if not app.config.get(key)]
    if missing:
        raise RuntimeError(
            f"The production configuration refuses to start without: {', '.join(missing)}"
        )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    if not app.config.get("CARD_SIGNING_KEYS"):
        app.config["CARD_SIGNING_KEYS"] = [instance_secret(app.instance_path, "card_signing_key")]
    if not app.config.get("CARD_HASH_KEY"):
        app.config["CARD_HASH_KEY"] = instance_secret(app.instance_path, "card_hash_key")
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        database = Path(app.instance_path) / "zlote-lajki.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith(("postgres://", "postgresql://")):
        # psycopg 3 is the driver; plain postgresql:// would ask for psycopg2.
        uri = "postgresql+psycopg://" + uri.split("://", 1)[1]
        app.config["SQLALCHEMY_DATABASE_URI"] = uri
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        options.pop("pool_pre_ping", None)
        timeout = app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000) / 1000
        options["connect_args"] = {**options.get("connect_args", {}), "timeout": timeout}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


class DatabaseIdConverter(IntegerConverter):
    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(config: Any = None) -> Flask:
    """Build the application. `config` is a config class or a dict of overrides."""
    instance_path = (config or {}).get("INSTANCE_PATH") if isinstance(config, dict) else None
    instance_path = instance_path or os.environ.get("INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    _load_config(app, config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    proxies = {k: app.config[f"PROXY_FIX_X_{k.upper()}"] for k in ("for", "proto", "host")}
    if any(proxies.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies["for"], x_proto=proxies["proto"],
                                x_host=proxies["host"])

    from . import database  # noqa: F401  (registers the SQLite connection setup)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), compare_type=True,
                    render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.login_message_category = "info"

    from .models import Organizer

    @login_manager.user_loader
    def load_organizer(organizer_id: str) -> Organizer | None:
        if not organizer_id.isdigit():
            return None
        return db.session.get(Organizer, int(organizer_id))

    # Ids in addresses stop where a database integer does: /profiles/<huge>/image is a 404,
    # not an overflow deep in the SQLite driver.
    app.url_map.converters["int"] = DatabaseIdConverter

    from . import http, roles
    from .admin.views import bp as admin_bp
    from .api.views import bp as api_bp
    from .ballot.views import bp as ballot_bp
    from .display.views import bp as display_bp

    app.register_blueprint(ballot_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(display_bp, url_prefix="/display")
    app.register_blueprint(api_bp, url_prefix="/api/v1")
    csrf.exempt(api_bp)
    http.init_app(app)
    roles.init_app(app)  # `can(endpoint)` for templates: links only to pages one may open

    @app.get("/healthz")
    def show_health() -> tuple[str, int, dict[str, str]]:
        """Liveness for load balancers, test servers and benchmarks: no database, no session."""
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    from .cli import register_cli

    register_cli(app)

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
