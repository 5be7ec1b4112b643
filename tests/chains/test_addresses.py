"""Addresses: each chain's real address derivation, cross-checked with python-bitcoinlib, embit,
eth-account/eth-utils and PyNaCl, and the strict parser's refusals (wrong chain, tampered checksums,
non-canonical forms, addresses that cannot sign)."""

from __future__ import annotations

import random

import nacl.signing
import pytest
from bitcoin import SelectParams
from bitcoin.wallet import CBitcoinSecret, P2PKHBitcoinAddress
from embit import ec as embit_ec
from embit import script as embit_script
from embit.networks import NETWORKS
from eth_account import Account
from eth_utils import to_checksum_address

from zkclear.chains import ed25519, secp256k1
from zkclear.chains.addresses import (
    AddressKind,
    bitcoin_address,
    eip55_checksum,
    evm_address,
    parse_address,
    solana_address,
)
from zkclear.chains.base58 import b58check_encode, b58encode
from zkclear.chains.bech32 import encode_segwit_address
from zkclear.errors import InputError


def _secrets(seed: int, count: int = 6) -> list[bytes]:
    generator = random.Random(seed)
    return [generator.randbytes(32) for _ in range(count)]


def test_p2pkh_addresses_match_python_bitcoinlib():
    try:
        for network, chain in (("mainnet", "bitcoin"), ("testnet", "bitcoin-testnet")):
            SelectParams(network)
            for secret in _secrets(1):
                for compressed in (True, False):
                    reference = CBitcoinSecret.from_secret_bytes(secret, compressed=compressed)
                    expected = str(P2PKHBitcoinAddress.from_pubkey(reference.pub))
                    key = secp256k1.encode_point(secp256k1.public_key(secret), compressed=compressed)
                    address = bitcoin_address(chain, AddressKind.P2PKH, key)
                    assert address.text == expected
                    assert parse_address(chain, expected) == address
    finally:
        SelectParams("mainnet")


def test_p2wpkh_addresses_match_embit():
    for chain, network in (("bitcoin", "main"), ("bitcoin-testnet", "test")):
        for secret in _secrets(2):
            public = embit_ec.PrivateKey(secret).get_public_key()
            expected = embit_script.p2wpkh(public).address(NETWORKS[network])
            address = bitcoin_address(chain, AddressKind.P2WPKH, public.sec())
            assert address.text == expected
            assert parse_address(chain, expected) == address


def test_evm_addresses_match_eth_account():
    for secret in _secrets(3):
        expected = Account.from_key(secret).address
        key = secp256k1.encode_point(secp256k1.public_key(secret), compressed=False)
        assert evm_address("ethereum", key).text == expected
        assert parse_address("ethereum", expected).text == expected
        assert parse_address("arbitrum", expected.lower()).text == expected


# EIP-55's own examples (all capitals, all lower, and mixed).
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("example", EIP55_EXAMPLES)
def test_eip55_published_examples(example):
    account = bytes.fromhex(example[2:])
    assert eip55_checksum(account) == example == to_checksum_address(example)
    assert parse_address("ethereum", example).text == example
    assert parse_address("ethereum", example.lower()).text == example


def test_eip55_matches_eth_utils_for_random_accounts():
    generator = random.Random(4)
    for _ in range(50):
        account = generator.randbytes(20)
        assert eip55_checksum(account) == to_checksum_address("0x" + account.hex())


def test_solana_addresses_match_pynacl():
    for secret in _secrets(5):
        public = bytes(nacl.signing.SigningKey(secret).verify_key)
        address = solana_address("solana", public)
        assert address.text == b58encode(public)
        assert parse_address("solana", address.text).payload == public


# -- refusals ----------------------------------------------------------------------------------------

MAINNET_P2WPKH = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
MAINNET_P2PKH = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
TESTNET_P2WPKH = encode_segwit_address("tb", 0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"))
TESTNET_P2PKH = b58check_encode(b"\x6f" + bytes(20))


@pytest.mark.parametrize(("chain", "address", "message"), [
    ("bitcoin", TESTNET_P2WPKH, "bitcoin-testnet address, not bitcoin"),
    ("bitcoin", TESTNET_P2PKH, "bitcoin-testnet address, not bitcoin"),
    ("bitcoin-testnet", MAINNET_P2WPKH, "bitcoin address, not bitcoin-testnet"),
    ("bitcoin-testnet", MAINNET_P2PKH, "bitcoin address, not bitcoin-testnet"),
    ("ethereum", MAINNET_P2WPKH, "not an EVM address"),
    ("solana", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not Base58"),
    ("bitcoin", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not a valid Base58Check"),
    ("dogecoin", MAINNET_P2PKH, "unknown chain"),
])
def test_attack_wrong_chain_address_is_refused(chain, address, message):
    with pytest.raises(InputError, match=message):
        parse_address(chain, address)


def test_attack_tampered_address_checksums_are_refused():
    tampered_bech32 = MAINNET_P2WPKH[:-1] + ("q" if MAINNET_P2WPKH[-1] != "q" else "p")
    with pytest.raises(InputError, match="checksum"):
        parse_address("bitcoin", tampered_bech32)
    tampered_base58 = MAINNET_P2PKH[:-1] + "b"
    with pytest.raises(InputError, match="checksum"):
        parse_address("bitcoin", tampered_base58)
    wrong_case = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # one letter's case flipped
    with pytest.raises(InputError, match="EIP-55 checksum mismatch"):
        parse_address("ethereum", wrong_case)


@pytest.mark.parametrize(("chain", "address", "message"), [
    ("bitcoin", MAINNET_P2WPKH.upper(), "lower case"),
    ("ethereum", "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not an EVM address"),
    ("ethereum", "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", "EIP-55 checksum mismatch"),
    ("ethereum", " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "surrounding spaces"),
    ("bitcoin", MAINNET_P2PKH + "\n", "printable ASCII"),
    ("ethereum", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "40 hex digits"),
    ("solana", "1" + b58encode(bytes(range(1, 33))), "33 bytes"),
])
def test_attack_non_canonical_address_forms_are_refused(chain, address, message):
    with pytest.raises(InputError, match=message):
        parse_address(chain, address)


@pytest.mark.parametrize(("address", "kind"), [
    (encode_segwit_address("bc", 0, bytes(32)), "P2WSH"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "Taproot"),
    (b58check_encode(b"\x05" + bytes(20)), "P2SH"),
])
def test_unsupported_bitcoin_address_types_are_refused_by_name(address, kind):
    with pytest.raises(InputError, match=kind):
        parse_address("bitcoin", address)


def test_attack_solana_address_that_cannot_sign_is_refused():
    identity = (1).to_bytes(32, "little")  # small order: anyone could forge its signatures
    with pytest.raises(InputError, match="cannot sign"):
        parse_address("solana", b58encode(identity))
    off_curve = (2).to_bytes(32, "little")  # like a program-derived address: no private key exists
    with pytest.raises(InputError, match="cannot sign"):
        parse_address("solana", b58encode(off_curve))
    mixed_order = ed25519.encode_point(ed25519._add(ed25519.multiply(7), ed25519.decode_point(
        bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))))
    with pytest.raises(InputError, match="prime-order subgroup"):
        parse_address("solana", b58encode(mixed_order))
