"""Reserve attestations (secp256k1 recoverable ECDSA) and the reserves input."""

import pytest

from zkclear.errors import InputError, VerificationError
from zkclear.proofs.attestations import (
    SECP256K1_N,
    ReserveAttestation,
    ReserveEntry,
    ReserveSet,
    address_of,
    public_key_of,
    recover_address,
    sign_attestation,
    verify_attestations,
)

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
MESSAGE = bytes(range(32))


@pytest.mark.parametrize("signer", ["coincurve", "py_ecc"])
@pytest.mark.parametrize("verifier", ["coincurve", "py_ecc", "pure"])
def test_every_engine_signs_and_recovers_the_same_address(signer, verifier):
    attestation = sign_attestation(KEY, MESSAGE, engine=signer)
    assert attestation.address == address_of(public_key_of(KEY, engine="py_ecc"))
    assert recover_address(MESSAGE, attestation.signature, engine=verifier) == attestation.address


def test_signature_over_another_message_recovers_another_address():
    attestation = sign_attestation(KEY, MESSAGE)
    assert recover_address(bytes(32), attestation.signature) != attestation.address


def test_high_s_and_malformed_signatures_are_rejected():
    signature = sign_attestation(KEY, MESSAGE).signature
    s = int.from_bytes(signature[32:64], "big")
    high = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([signature[64] ^ 1])
    for bad in (high, signature[:64], signature[:64] + b"\x05", bytes(65)):
        with pytest.raises(VerificationError) as caught:
            recover_address(MESSAGE, bad)
        assert caught.value.reason == "reserve-attestation"


def _reserves(keys):
    return ReserveSet(
        tuple(ReserveEntry(address_of(public_key_of(k)), 100 * (i + 1)) for i, k in enumerate(keys))
    )


def test_verify_attestations_returns_the_attested_total_and_names_a_wrong_key():
    keys = (bytes([7]) * 32, bytes([8]) * 32)
    reserves = _reserves(keys)
    good = [sign_attestation(k, MESSAGE) for k in keys]
    assert verify_attestations(reserves, good, MESSAGE) == 300
    forged = ReserveAttestation(good[1].address, sign_attestation(bytes([9]) * 32, MESSAGE).signature)
    with pytest.raises(VerificationError) as caught:
        verify_attestations(reserves, [good[0], forged], MESSAGE)
    assert caught.value.reason == "reserve-attestation" and caught.value.index == 1
    with pytest.raises(VerificationError):
        verify_attestations(reserves, [good[0], good[0], good[1]], MESSAGE)


def test_reserves_csv_parses_strictly():
    address = address_of(public_key_of(KEY))
    parsed = ReserveSet.parse_csv(f"address,balance\n{address},12345\n")
    assert parsed.total == 12345 and parsed.entries[0].address == address
    with pytest.raises(InputError) as caught:
        ReserveSet.parse_csv(f"address,balance\n{address},12x\n", path="reserves.csv")
    assert caught.value.line == 2 and caught.value.field == "balance"
    with pytest.raises(InputError):
        ReserveSet.parse_csv("addr,bal\n")
    with pytest.raises(InputError):
        ReserveSet.parse_csv(f"address,balance\n{address},1\n{address},2\n")
    with pytest.raises(InputError):
        ReserveSet.parse_csv("address,balance\n0xNOTHEX,1\n")
    with pytest.raises(InputError):
        ReserveSet.parse_csv(f"address,balance\n{address},{1 << 64}\n")


def test_standard_library_recovery_agrees_with_libsecp256k1_on_random_keys_and_messages():
    import hashlib

    for i in range(12):
        key = hashlib.sha256(b"key" + bytes([i])).digest()
        message = hashlib.sha256(b"message" + bytes([i])).digest()
        signature = sign_attestation(key, message, engine="coincurve").signature
        assert recover_address(message, signature, engine="pure") == recover_address(
            message, signature, engine="coincurve"
        ) == address_of(public_key_of(key))
        flipped = signature[:64] + bytes([signature[64] ^ 1])  # the other candidate point: another key
        assert recover_address(message, flipped, engine="pure") == recover_address(
            message, flipped, engine="coincurve"
        ) != address_of(public_key_of(key))


def test_standard_library_recovery_rejects_what_libsecp256k1_rejects():
    from zkclear.crypto.secp256k1 import P, recover_public_key

    signature = sign_attestation(KEY, MESSAGE).signature
    r = next(x for x in range(1, 100) if pow((x**3 + 7) % P, (P - 1) // 2, P) != 1)  # no point has x = r
    no_point = r.to_bytes(32, "big") + signature[32:]
    for engine in ("pure", "coincurve"):
        with pytest.raises(VerificationError):
            recover_address(MESSAGE, no_point, engine=engine)
    # s·R = e·G makes the recovered key the point at infinity: R = k·G, s = 1, e = k
    import coincurve

    k = 0x1234567890ABCDEF
    point = coincurve.PrivateKey(k.to_bytes(32, "big")).public_key.format(compressed=False)
    x, y = int.from_bytes(point[1:33], "big"), int.from_bytes(point[33:], "big")
    at_infinity = x.to_bytes(32, "big") + (1).to_bytes(32, "big") + bytes([y & 1])
    for engine in ("pure", "coincurve"):
        with pytest.raises(VerificationError):
            recover_address(k.to_bytes(32, "big"), at_infinity, engine=engine)
    for bad in ((MESSAGE, 0, 1, 0), (MESSAGE, 1, SECP256K1_N, 0), (MESSAGE, 1, 1, 2), (MESSAGE[:31], 1, 1, 0)):
        with pytest.raises(ValueError):
            recover_public_key(*bad)
