"""Base58, Base58Check, Bech32 and Bech32m: published vectors, cross-checks with python-bitcoinlib and
embit, and the tampered or non-canonical strings each decoder must refuse."""

from __future__ import annotations

import random

import pytest
from bitcoin import base58 as bitcoinlib_base58
from embit import base58 as embit_base58
from embit import bech32 as embit_bech32

from zkclear.chains.base58 import b58check_decode, b58check_encode, b58decode, b58encode
from zkclear.chains.bech32 import (
    Encoding,
    bech32_decode,
    bech32_encode,
    decode_segwit_address,
    encode_segwit_address,
)
from zkclear.errors import EncodingError


def _payloads(seed: int) -> list[bytes]:
    generator = random.Random(seed)
    return [b"\x00" * zeros + generator.randbytes(length) for zeros in (0, 1, 3) for length in (0, 1, 20, 21, 32, 64)]


def test_base58_matches_python_bitcoinlib_and_embit():
    for payload in _payloads(1):
        text = b58encode(payload)
        assert text == bitcoinlib_base58.encode(payload) == embit_base58.encode(payload)
        assert b58decode(text) == payload


def test_base58check_matches_embit():
    for payload in _payloads(2):
        text = b58check_encode(payload)
        assert text == embit_base58.encode_check(payload)
        assert b58check_decode(text) == payload


def test_base58check_published_address():
    # The genesis block's coinbase address: version 0 || HASH160 of Satoshi's key.
    payload = b58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
    assert payload.hex() == "0062e907b15cbf27d5425399ebf6f0fb50ebb88f18"


def test_attack_tampered_base58check_checksum_is_refused():
    text = b58check_encode(bytes(21))
    tampered = text[:-1] + ("2" if text[-1] != "2" else "3")
    with pytest.raises(EncodingError, match="checksum"):
        b58check_decode(tampered)


@pytest.mark.parametrize("text", ["0OIl", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "abc def", "ｱ"])
def test_base58_refuses_characters_outside_the_alphabet(text):
    with pytest.raises(EncodingError, match="invalid character"):
        b58decode(text)


# BIP-173 "Test vectors" (Bech32) and BIP-350 "Test vectors for Bech32m".
VALID_BECH32 = [
    "A12UEL5L", "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A", "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v", "?1v759aa",
]
INVALID_BECH32_ANY = [
    "\x201nwldj5", "\x7f1axkwrx", "\x801eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "de1lg7wt\xff", "A1G7SGD8", "10a06t8", "1qzzfhee",
    "\x201xj0phk", "\x7f1g6xzxy", "\x801vctc34",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m", "1qyrz8wqd2c9m", "y1b0jsk6g", "lt1igcx5c0", "in1muywd", "mm1crxm3i", "au1s5cgom", "M1VUXWEZ",
    "16plkw9", "1p2gdwpf",
]


@pytest.mark.parametrize("text", VALID_BECH32)
def test_bech32_published_valid_strings(text):
    hrp, data, encoding = bech32_decode(text)
    assert encoding is Encoding.BECH32
    assert bech32_encode(hrp, data, encoding) == text.lower()


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_bech32m_published_valid_strings(text):
    hrp, data, encoding = bech32_decode(text)
    assert encoding is Encoding.BECH32M
    assert bech32_encode(hrp, data, encoding) == text.lower()


@pytest.mark.parametrize("text", INVALID_BECH32_ANY)
def test_bech32_published_invalid_strings_are_refused(text):
    with pytest.raises(EncodingError):
        bech32_decode(text)


VALID_SEGWIT = [  # BIP-350: address -> scriptPubKey
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
     "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
     "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    ("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
     "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
     "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
]
INVALID_SEGWIT = [  # BIP-350, with the reason given there
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "human-readable part"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "must use bech32m"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "must use bech32m"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "must use bech32m"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "must use bech32"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "must use bech32"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "invalid data character"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "witness version"),
    ("bc1pw5dgrnzv", "program length"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav", "length"),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "version 0 program"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "mixed case"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "padding"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "padding"),
    ("bc1gmk9yu", "empty data"),
]


@pytest.mark.parametrize(("address", "script"), VALID_SEGWIT)
def test_segwit_published_valid_addresses(address, script):
    hrp = address[:2].lower()
    version, program = decode_segwit_address(hrp, address)
    op_version = 0 if version == 0 else 0x50 + version
    assert bytes([op_version, len(program)]).hex() + program.hex() == script
    assert encode_segwit_address(hrp, version, program) == address.lower()


@pytest.mark.parametrize(("address", "reason"), INVALID_SEGWIT)
def test_segwit_published_invalid_addresses_are_refused(address, reason):
    hrp = "tb" if address.lower().startswith("tb") else "bc"
    with pytest.raises(EncodingError, match=reason):
        decode_segwit_address(hrp, address)


def test_segwit_addresses_match_embit_for_random_programs():
    generator = random.Random(6)
    for version in range(17):
        for length in ((20, 32) if version == 0 else (2, 20, 32, 40)):
            program = generator.randbytes(length)
            for hrp in ("bc", "tb"):
                address = encode_segwit_address(hrp, version, program)
                assert address == embit_bech32.encode(hrp, version, program)
                assert decode_segwit_address(hrp, address) == (version, program)


def test_attack_tampered_bech32_checksum_is_refused():
    address = encode_segwit_address("bc", 0, bytes(range(20)))
    for position in range(4, len(address)):
        replacement = "q" if address[position] != "q" else "p"
        with pytest.raises(EncodingError):
            decode_segwit_address("bc", address[:position] + replacement + address[position + 1:])
