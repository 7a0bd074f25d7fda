"""Card secrets, pure: signing, tampering, salts, key rotation, code normalising."""

from __future__ import annotations

import base64

import pytest
from itsdangerous import URLSafeSerializer

from voting import tokens
from voting.tokens import CardSecretError

KEYS = ["signing-key-2026"]
HASH_KEY = "hash-key"


def test_tokens_new_card_round_trips_through_its_digests():
    card = tokens.new_card(7, KEYS, HASH_KEY)
    assert tokens.token_digest(card.token, 7, KEYS, HASH_KEY) == card.token_digest
    assert tokens.code_digest(card.code, HASH_KEY) == card.code_digest
    assert len(card.code) == 11 and card.code[5] == "-"


def test_tokens_secret_has_at_least_128_bits():
    card = tokens.new_card(1, KEYS, HASH_KEY)
    payload = URLSafeSerializer(KEYS, salt=tokens.CARD_SALT).loads(card.token)
    secret = base64.urlsafe_b64decode(payload["s"] + "==")
    assert len(secret) * 8 >= 128


def test_tokens_cards_are_all_different():
    cards = [tokens.new_card(1, KEYS, HASH_KEY) for _ in range(200)]
    assert len({c.token_digest for c in cards}) == 200
    assert len({c.code_digest for c in cards}) == 200


def test_tokens_tampered_token_is_refused():
    card = tokens.new_card(1, KEYS, HASH_KEY)
    body, signature = card.token.rsplit(".", 1)
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    with pytest.raises(CardSecretError):
        tokens.token_digest(forged, 1, KEYS, HASH_KEY)
    with pytest.raises(CardSecretError):
        tokens.token_digest(card.token + "x", 1, KEYS, HASH_KEY)


def test_tokens_wrong_salt_or_key_is_refused():
    other_purpose = URLSafeSerializer(KEYS, salt="something-else").dumps({"g": 1, "s": "abc"})
    with pytest.raises(CardSecretError):
        tokens.token_digest(other_purpose, 1, KEYS, HASH_KEY)
    card = tokens.new_card(1, ["another-key"], HASH_KEY)
    with pytest.raises(CardSecretError):
        tokens.token_digest(card.token, 1, KEYS, HASH_KEY)


def test_tokens_token_of_another_gala_is_refused():
    card = tokens.new_card(1, KEYS, HASH_KEY)
    with pytest.raises(CardSecretError):
        tokens.token_digest(card.token, 2, KEYS, HASH_KEY)


def test_tokens_rotated_key_still_accepts_old_cards_and_signs_with_the_new_one():
    old = tokens.new_card(1, ["old"], HASH_KEY)
    rotated = ["old", "new"]
    assert tokens.token_digest(old.token, 1, rotated, HASH_KEY) == old.token_digest
    fresh = tokens.new_card(1, rotated, HASH_KEY)
    assert tokens.token_digest(fresh.token, 1, ["new"], HASH_KEY) == fresh.token_digest
    with pytest.raises(CardSecretError):
        tokens.token_digest(fresh.token, 1, ["old"], HASH_KEY)


@pytest.mark.parametrize("typed", ["abcde-fghjk", "ABCDEFGHJK", " abcde fghjk ", "ABCDE_FGHJK",
                                   "abcde-fghjk\t"])
def test_tokens_code_normalising_forgives_case_and_separators(typed):
    assert tokens.normalise_code(typed) == "ABCDEFGHJK"


def test_tokens_code_normalising_maps_lookalikes():
    assert tokens.normalise_code("O0IL1-oil10") == "0011101110"


@pytest.mark.parametrize("typed", ["", "ABCDE", "ABCDE-FGHJKM", "ABCDE-FGHJU", "ĄBCDE-FGHJK",
                                   "ABCDE-FGH!K"])
def test_tokens_malformed_codes_are_refused(typed):
    with pytest.raises(CardSecretError):
        tokens.normalise_code(typed)


def test_tokens_digests_depend_on_the_server_key_and_the_purpose():
    assert tokens.digest("k1", "code", "X") != tokens.digest("k2", "code", "X")
    assert tokens.digest("k1", "code", "X") != tokens.digest("k1", "qr", "X")


def test_tokens_receipts_are_random_and_readable():
    receipts = {tokens.new_receipt() for _ in range(100)}
    assert len(receipts) == 100
    assert all(len(r) == 14 and r[4] == "-" and r[9] == "-" for r in receipts)
