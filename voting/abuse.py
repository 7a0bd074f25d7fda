"""Wrong card codes: a limit per client address that counts failures only, and an alarm.

The codes' 50 bits make guessing hopeless at any rate HTTP allows; the limit only caps the
rate. It counts failed attempts (a 401, or a request a view marks with `note_card_failure`)
per client address, generously (`CARD_FAILURE_LIMIT`, 120 a minute by default) so a hall
behind the venue's one Wi-Fi address is never locked out by its own typos. A client over its
limit is answered 429 before its code is even looked up.

Failures are also counted for everyone together in a moving window; when they pass
`CARD_FAILURE_ALARM` the admin shows a banner. The alarm never blocks anyone: a global
lockout would let one attacker stop the vote for the whole hall.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, current_app, g
from flask.wrappers import Response
from limits import RateLimitItem, parse, parse_many
from limits.strategies import MovingWindowRateLimiter

from .extensions import client_address, limiter

log = logging.getLogger(__name__)

CARD_SCOPE = "card-attempts"
ALARM_KEY = "card-failures"
# The alarm counts up to this many times its threshold; past that it says "at least".
ALARM_HEADROOM = 10


def note_card_failure() -> None:
    """Count this request as a wrong card code although it does not answer 401."""
    g.card_attempt_failed = True


def is_card_failure(response: Response) -> bool:
    """Whether a response of a card route was a failed attempt (and count it for the alarm)."""
    failed = response.status_code == 401 or bool(g.get("card_attempt_failed"))
    if failed:
        _count_for_alarm()
    return failed


card_attempts = limiter.shared_limit(
    lambda: current_app.config["CARD_FAILURE_LIMIT"],
    scope=CARD_SCOPE,
    key_func=client_address,
    deduct_when=is_card_failure,
)
"""Decorate every view that takes a card's code or token: `@card_attempts`. They share one
budget of failures per client address."""


def _alarm_items() -> tuple[RateLimitItem, RateLimitItem, list[str]]:
    threshold = parse(current_app.config["CARD_FAILURE_ALARM"])
    counter = type(threshold)(threshold.amount * ALARM_HEADROOM, threshold.multiples)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return threshold, counter, [prefix, ALARM_KEY] if prefix else [ALARM_KEY]


def _failures(strategy: MovingWindowRateLimiter, counter: RateLimitItem, keys: list[str]) -> int:
    return counter.amount - strategy.get_window_stats(counter, *keys).remaining


def _count_for_alarm() -> None:
    try:
        threshold, counter, keys = _alarm_items()
        strategy = MovingWindowRateLimiter(limiter.storage)
        strategy.hit(counter, *keys)
        if _failures(strategy, counter, keys) == threshold.amount + 1:
            log.warning("wrong card codes spiking: over %s in the last %s seconds",
                        threshold.amount, threshold.get_expiry())
    except Exception:  # the alarm must never break the response it counts
        log.exception("could not count a wrong card code for the alarm")


def failure_alarm() -> dict[str, Any] | None:
    """The wrong card codes of the moving window, if they pass the alarm threshold; else None.

    `{"failures": n, "threshold": t, "minutes": m, "capped": bool}`; `capped` means at least n.
    """
    try:
        threshold, counter, keys = _alarm_items()
        failures = _failures(MovingWindowRateLimiter(limiter.storage), counter, keys)
    except Exception:
        log.exception("could not read the wrong card codes for the alarm")
        return None
    if failures <= threshold.amount:
        return None
    return {"failures": failures, "threshold": threshold.amount,
            "minutes": max(1, math.ceil(threshold.get_expiry() / 60)),
            "capped": failures >= counter.amount}


def init_app(app: Flask) -> None:
    # A limit that does not parse should stop the start, not the first voter.
    parse_many(app.config["CARD_FAILURE_LIMIT"])
    parse(app.config["CARD_FAILURE_ALARM"])
    app.context_processor(lambda: {"card_failure_alarm": failure_alarm})
