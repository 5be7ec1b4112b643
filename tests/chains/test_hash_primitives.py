"""Keccak-256, RIPEMD-160 and the Bitcoin hash compositions, cross-checked with pycryptodome and embit."""

from __future__ import annotations

import hashlib
import random

import pytest
from Crypto.Hash import RIPEMD160, keccak

from zkclear.chains.hashes import double_sha256, hash160, tagged_hash
from zkclear.chains.keccak import keccak256
from zkclear.chains.ripemd160 import ripemd160

# Lengths around the block boundaries: Keccak-256 rate 136 bytes, RIPEMD-160 block 64 (padding needs 9).
LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 135, 136, 137, 271, 272, 273, 1000]


def _messages(seed: int) -> list[bytes]:
    generator = random.Random(seed)
    return [generator.randbytes(length) for length in LENGTHS]


def test_keccak256_published_values():
    # Ethereum's empty-input hash and keccak256("abc") (not SHA3-256: the padding differs).
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    assert keccak256(b"abc") != hashlib.sha3_256(b"abc").digest()


@pytest.mark.parametrize("seed", [1, 2])
def test_keccak256_matches_pycryptodome(seed):
    for message in _messages(seed):
        assert keccak256(message) == keccak.new(digest_bits=256, data=message).digest(), len(message)


def test_ripemd160_published_values():
    # The test vectors of the RIPEMD-160 paper (Dobbertin, Bosselaers, Preneel).
    assert ripemd160(b"").hex() == "9c1185a5c5e9fc54612808977ee8f548b2258d31"
    assert ripemd160(b"abc").hex() == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    assert ripemd160(b"message digest").hex() == "5d0689ef49d2fae572b881b123a85ffa21595f36"
    assert ripemd160(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex() == (
        "12a053384a9c0c88e405a06c27dcf49ada62eb2b")
    assert ripemd160(b"1234567890" * 8).hex() == "9b752e45573d4b39f4dbd3323cab82bf63326bfb"


@pytest.mark.parametrize("seed", [3, 4])
def test_ripemd160_matches_pycryptodome(seed):
    for message in _messages(seed):
        assert ripemd160(message) == RIPEMD160.new(message).digest(), len(message)


def test_hash160_and_double_sha256_match_embit():
    from embit import hashes

    for message in _messages(5):
        assert hash160(message) == hashes.hash160(message)
        assert double_sha256(message) == hashes.double_sha256(message)


def test_tagged_hash_matches_bip322_message_hash_vectors():
    # BIP-322 "Message hashing" test vectors.
    assert tagged_hash("BIP0322-signed-message", b"").hex() == (
        "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1")
    assert tagged_hash("BIP0322-signed-message", b"Hello World").hex() == (
        "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a")
