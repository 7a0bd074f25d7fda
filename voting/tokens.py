"""Card secrets: the QR token, the short code, their digests. No Flask, no database.

A card carries two secrets, both random and independent: a 128-bit secret inside a signed QR
link, and a 50-bit short code for typing. Neither is ever stored: the database keeps only
HMAC-SHA256 digests under a server-side key, so a stolen dump yields no usable card and no
way to test guesses offline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

CARD_SALT = "zlote-lajki.card.v1"
SECRET_BYTES = 16  # 128 bits
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10  # 50 bits
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\t")


class CardSecretError(ValueError):
    """A token or code that is malformed, forged or signed for another gala."""


@dataclass(frozen=True)
class CardSecrets:
    """What is printed on one card. Exists only at issuance."""

    token: str  # goes into the QR link /v/<token>
    code: str  # typed by hand, shown as XXXXX-XXXXX
    token_digest: str
    code_digest: str


def _serializer(signing_keys: Sequence[str]) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts any of them: append a new key to
    # rotate, drop the old one once its cards no longer matter.
    return URLSafeSerializer(list(signing_keys), salt=CARD_SALT)


def digest(hash_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of a card secret; `purpose` keeps QR secrets and codes apart."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(hash_key.encode(), message, hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def normalise_code(typed: str) -> str:
    """A typed short code in canonical form: case, spaces, hyphens and look-alikes forgiven."""
    code = typed.strip().upper().translate(_SEPARATORS).translate(_LOOKALIKES)
    if len(code) != CODE_LENGTH or any(char not in CROCKFORD for char in code):
        raise CardSecretError("not a card code")
    return code


def new_card(gala_id: int, signing_keys: Sequence[str], hash_key: str) -> CardSecrets:
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")
    token = _serializer(signing_keys).dumps({"g": gala_id, "s": secret})
    code = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))
    return CardSecrets(token=token, code=format_code(code),
                       token_digest=digest(hash_key, "qr", secret),
                       code_digest=digest(hash_key, "code", code))


def token_digest(token: str, gala_id: int, signing_keys: Sequence[str], hash_key: str) -> str:
    """The digest to look a QR token up by, once its signature and gala check out."""
    try:
        payload = _serializer(signing_keys).loads(token)
    except BadSignature as error:
        raise CardSecretError("forged or damaged token") from error
    if not isinstance(payload, dict) or payload.get("g") != gala_id:
        raise CardSecretError("token of another gala")
    secret = payload.get("s")
    if not isinstance(secret, str) or not secret:
        raise CardSecretError("token without a secret")
    return digest(hash_key, "qr", secret)


def code_digest(typed: str, hash_key: str) -> str:
    return digest(hash_key, "code", normalise_code(typed))


def looks_like_code(value: str) -> bool:
    """A short code (as opposed to a QR token), judged by its length once normalised."""
    return len(value.strip().translate(_SEPARATORS)) == CODE_LENGTH


def new_receipt() -> str:
    """A random receipt code for a ballot: proves inclusion, says nothing about the choices."""
    code = "".join(secrets.choice(CROCKFORD) for _ in range(12))
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"
