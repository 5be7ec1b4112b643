"""secp256k1 ECDSA and Ed25519 in pure Python, cross-checked with coincurve (libsecp256k1) and PyNaCl
(libsodium), plus the published RFC 6979 and RFC 8032 vectors."""

from __future__ import annotations

import hashlib
import random

import coincurve
import nacl.exceptions
import nacl.signing
import pytest

from zkclear.chains import ed25519, secp256k1
from zkclear.chains.der import der_decode, der_encode
from zkclear.errors import EncodingError


def _cases(seed: int, count: int = 12) -> list[tuple[bytes, bytes]]:
    generator = random.Random(seed)
    return [(generator.randbytes(32), generator.randbytes(32)) for _ in range(count)]


# -- secp256k1 ---------------------------------------------------------------------------------------

def test_secp256k1_pure_signatures_equal_libsecp256k1_byte_for_byte():
    for secret, digest in _cases(1):
        r, s, recovery_id = secp256k1.sign(secret, digest, engine="pure")
        expected = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
        assert r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recovery_id]) == expected


def test_secp256k1_pure_public_keys_and_recovery_equal_libsecp256k1():
    for secret, digest in _cases(2):
        point = secp256k1.public_key(secret, engine="pure")
        assert secp256k1.encode_point(point) == coincurve.PrivateKey(secret).public_key.format(compressed=True)
        raw = coincurve.PrivateKey(secret).sign_recoverable(digest, hasher=None)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big")
        assert secp256k1.recover(digest, r, s, raw[64], engine="pure") == point
        assert secp256k1.recover(digest, r, s, raw[64], engine="auto") == point
        assert secp256k1.verify(point, digest, r, s)
        other = bytes([digest[0] ^ 1]) + digest[1:]
        assert not secp256k1.verify(point, other, r, s)


def test_secp256k1_rfc6979_published_vector():
    # Private key 1, SHA-256("Satoshi Nakamoto") (bitcointalk topic 285142): k, then r and low s.
    digest = hashlib.sha256(b"Satoshi Nakamoto").digest()
    secret = (1).to_bytes(32, "big")
    assert secp256k1.rfc6979_nonce(secret, digest) == 0x8F8A276C19F4149656B280621E358CCE24F5F52542772691EE69063B74F15D15
    r, s, _ = secp256k1.sign(secret, digest, engine="pure")
    assert r == 0x934B1EA10A4B3C1757E2B0C017D0B6143CE3C9A7E6A4A49860D7A6AB210EE3D8
    assert s == 0x2442CE9D2B916064108014783E923EC36B49743E2FFA1C4496F01A512AAFD9E5


def test_secp256k1_signatures_verify_under_libsecp256k1():
    for secret, digest in _cases(3):
        r, s, _ = secp256k1.sign(secret, digest, engine="pure")
        public = coincurve.PrivateKey(secret).public_key
        assert public.verify(der_encode(r, s), digest, hasher=None)


def test_attack_high_s_signature_is_refused_by_recovery_and_verification():
    secret, digest = _cases(4, 1)[0]
    r, s, recovery_id = secp256k1.sign(secret, digest, engine="pure")
    point = secp256k1.public_key(secret)
    malleated = secp256k1.N - s  # (r, N - s) is the "other" valid ECDSA signature
    with pytest.raises(EncodingError, match="high s"):
        secp256k1.recover(digest, r, malleated, recovery_id ^ 1)
    assert not secp256k1.verify(point, digest, r, malleated)
    assert secp256k1.verify(point, digest, r, malleated, require_low_s=False)


@pytest.mark.parametrize("encoded", [
    b"\x02" + (secp256k1.P).to_bytes(32, "big"),  # x >= P
    b"\x02" + (5).to_bytes(32, "big"),  # x = 5 is not on the curve (5^3 + 7 is not a square)
    b"\x04" + bytes(64),
    b"\x05" + bytes(32),
    bytes(33)[:32],
])
def test_secp256k1_refuses_invalid_public_key_encodings(encoded):
    with pytest.raises(EncodingError):
        secp256k1.decode_point(encoded)


@pytest.mark.parametrize("secret", [bytes(32), secp256k1.N.to_bytes(32, "big"), b"\x01" * 31])
def test_secp256k1_refuses_private_keys_out_of_range(secret):
    with pytest.raises(EncodingError):
        secp256k1.public_key(secret, engine="pure")


def test_der_round_trip_and_strictness():
    for secret, digest in _cases(5, 6):
        r, s, _ = secp256k1.sign(secret, digest, engine="pure")
        encoded = der_encode(r, s)
        assert der_decode(encoded) == (r, s)
        assert coincurve.PrivateKey(secret).sign(digest, hasher=None) == encoded  # libsecp256k1's DER
    padded = b"\x30\x07\x02\x02\x00\x01\x02\x01\x01"  # r written with a needless leading zero
    with pytest.raises(EncodingError, match="minimally"):
        der_decode(padded)
    negative = b"\x30\x06\x02\x01\x81\x02\x01\x01"
    with pytest.raises(EncodingError, match="negative"):
        der_decode(negative)
    with pytest.raises(EncodingError, match="trailing"):
        der_decode(b"\x30\x07\x02\x01\x01\x02\x01\x01\x00")


# -- Ed25519 -----------------------------------------------------------------------------------------

RFC8032 = [  # RFC 8032 section 7.1, TEST 1-3: secret key, public key, message, signature
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.mark.parametrize(("secret", "public", "message", "signature"), RFC8032)
def test_ed25519_rfc8032_vectors(secret, public, message, signature):
    seed, msg = bytes.fromhex(secret), bytes.fromhex(message)
    assert ed25519.public_key(seed).hex() == public
    assert ed25519.sign(seed, msg).hex() == signature
    assert ed25519.verify(bytes.fromhex(public), msg, bytes.fromhex(signature))


def test_ed25519_matches_pynacl_both_ways():
    generator = random.Random(6)
    for index in range(10):
        seed, message = generator.randbytes(32), generator.randbytes(index * 13)
        signing_key = nacl.signing.SigningKey(seed)
        assert ed25519.public_key(seed) == bytes(signing_key.verify_key)
        signature = ed25519.sign(seed, message)
        assert signature == signing_key.sign(message).signature
        signing_key.verify_key.verify(message, signature)
        assert ed25519.verify(bytes(signing_key.verify_key), message, signature)
        assert not ed25519.verify(bytes(signing_key.verify_key), message + b"!", signature)


def test_attack_ed25519_malleated_s_plus_l_is_refused_like_libsodium():
    seed, message = bytes(range(32)), b"reserve"
    signature = ed25519.sign(seed, message)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + ed25519.L).to_bytes(32, "little")
    assert not ed25519.verify(ed25519.public_key(seed), message, malleated)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(ed25519.public_key(seed)).verify(message, malleated)


def test_attack_ed25519_small_order_public_key_is_refused():
    # The identity (y = 1) has order 1: with it as the key, R = [S]B "verifies" for every message.
    identity = (1).to_bytes(32, "little")
    forged_s = 5
    forged = ed25519.encode_point(ed25519.multiply(forged_s)) + forged_s.to_bytes(32, "little")
    assert not ed25519.verify(identity, b"any message", forged)
    with pytest.raises(EncodingError, match="small-order"):
        ed25519.check_public_key(identity)


def test_ed25519_refuses_non_canonical_point_encodings():
    non_canonical_y = (ed25519.P + 1).to_bytes(32, "little")  # y >= P
    with pytest.raises(EncodingError):
        ed25519.decode_point(non_canonical_y)
    not_on_curve = (2).to_bytes(32, "little")  # no x with y = 2
    with pytest.raises(EncodingError):
        ed25519.decode_point(not_on_curve)
