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
@pytest.mark.parametrize("verifier", ["coincurve", "py_ecc"])
def test_both_engines_sign_and_recover_the_same_address(signer, verifier):
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
