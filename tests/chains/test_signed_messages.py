"""Each chain's standard signed-message scheme, cross-checked with an independent library in both
directions (python-bitcoinlib for BIP-137, the BIP-322 published vectors, eth-account for EIP-191,
PyNaCl for Solana), and the malleated or non-canonical signatures each verifier refuses."""

from __future__ import annotations

import base64
import random

import nacl.signing
import pytest
from bitcoin.signmessage import BitcoinMessage, SignMessage, VerifyMessage
from bitcoin.wallet import CBitcoinSecret
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.chains.chain_fixtures import key
from zkclear.chains import secp256k1
from zkclear.chains.addresses import AddressKind, bitcoin_address, parse_address
from zkclear.chains.base58 import b58check_decode, b58decode, b58encode
from zkclear.chains.bip322 import message_hash, p2wpkh_script, to_sign_txid, to_spend_txid
from zkclear.chains.der import der_decode, der_encode
from zkclear.chains.ed25519 import L
from zkclear.chains.reasons import Reason
from zkclear.chains.schemes import BitcoinFormat, sign_message, verify_message
from zkclear.errors import VerificationError

MESSAGES = ["", "hello", "zkclear reserve attestation v1\nvenue: Acme\nepoch: 7", "x" * 300, "naïve ✓"]


def _secrets(seed: int, count: int = 4) -> list[bytes]:
    generator = random.Random(seed)
    return [generator.randbytes(32) for _ in range(count)]


def _expect(reason: Reason, address, message: bytes, signature: str) -> VerificationError:
    with pytest.raises(VerificationError) as caught:
        verify_message(address, message, signature)
    assert caught.value.reason == reason.value
    assert address.text in str(caught.value)
    return caught.value


# -- Bitcoin BIP-137 ---------------------------------------------------------------------------------

@pytest.mark.parametrize("compressed", [True, False])
def test_bip137_p2pkh_cross_checked_with_python_bitcoinlib(compressed):
    for secret in _secrets(1):
        public = secp256k1.encode_point(secp256k1.public_key(secret), compressed=compressed)
        address = bitcoin_address("bitcoin", AddressKind.P2PKH, public)
        reference_key = CBitcoinSecret.from_secret_bytes(secret, compressed=compressed)
        for text in MESSAGES:
            ours = sign_message(secret, address, text.encode())
            assert VerifyMessage(address.text, BitcoinMessage(text), ours)
            theirs = SignMessage(reference_key, BitcoinMessage(text)).decode()
            verify_message(address, text.encode(), theirs)


def test_bip137_p2wpkh_headers_and_electrum_form():
    secret = _secrets(2, 1)[0]
    public = secp256k1.encode_point(secp256k1.public_key(secret))
    address = bitcoin_address("bitcoin", AddressKind.P2WPKH, public)
    signature = sign_message(secret, address, b"hello")
    raw = base64.b64decode(signature)
    assert 39 <= raw[0] <= 42  # BIP-137 segwit header
    verify_message(address, b"hello", signature)
    electrum = base64.b64encode(bytes([raw[0] - 8]) + raw[1:]).decode()  # compressed-P2PKH header 31-34
    verify_message(address, b"hello", electrum)
    # python-bitcoinlib (P2PKH-only) signs with header 31-34: accepted for the same key's P2WPKH address.
    legacy = SignMessage(CBitcoinSecret.from_secret_bytes(secret), BitcoinMessage("hello")).decode()
    verify_message(address, b"hello", legacy)


def test_bip137_refuses_a_header_for_another_address_type():
    secret = _secrets(3, 1)[0]
    public = secp256k1.encode_point(secp256k1.public_key(secret))
    p2pkh = bitcoin_address("bitcoin", AddressKind.P2PKH, public)
    p2wpkh = bitcoin_address("bitcoin", AddressKind.P2WPKH, public)
    segwit_signature = sign_message(secret, p2wpkh, b"hello")
    error = _expect(Reason.SIGNATURE_MALFORMED, p2pkh, b"hello", segwit_signature)
    assert "header is for P2WPKH" in str(error)
    raw = bytearray(base64.b64decode(segwit_signature))
    raw[0] = 35 + (raw[0] - 39)  # P2SH-P2WPKH header
    _expect(Reason.SIGNATURE_MALFORMED, p2wpkh, b"hello", base64.b64encode(bytes(raw)).decode())


def test_attack_bip137_high_s_malleated_signature_is_refused():
    secret = _secrets(4, 1)[0]
    address = bitcoin_address("bitcoin", AddressKind.P2PKH, secp256k1.encode_point(secp256k1.public_key(secret)))
    raw = base64.b64decode(sign_message(secret, address, b"hello"))
    s = int.from_bytes(raw[33:], "big")
    flipped_header = 27 + ((raw[0] - 27) ^ 1)  # the other recovery id recovers the same key with N - s
    malleated = bytes([flipped_header]) + raw[1:33] + (secp256k1.N - s).to_bytes(32, "big")
    assert VerifyMessage(address.text, BitcoinMessage("hello"), base64.b64encode(malleated).decode())
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"hello", base64.b64encode(malleated).decode())


def test_bip137_refuses_non_canonical_base64():
    secret = _secrets(5, 1)[0]
    address = bitcoin_address("bitcoin", AddressKind.P2PKH, secp256k1.encode_point(secp256k1.public_key(secret)))
    signature = sign_message(secret, address, b"hello")
    assert signature.endswith("=")
    last = signature[-2]
    # The last data character carries 2 unused bits: setting one keeps the same bytes under lax decoders.
    sloppy = signature[:-2] + chr(ord(last) + 1) + "="
    assert base64.b64decode(sloppy) == base64.b64decode(signature)
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"hello", sloppy)
    _expect(Reason.SIGNATURE_MALFORMED, address, b"hello", signature.rstrip("="))
    _expect(Reason.SIGNATURE_MALFORMED, address, b"hello", " " + signature)


# -- Bitcoin BIP-322 simple --------------------------------------------------------------------------

BIP322_ADDRESS = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
BIP322_WIF = "L3VFeEujGtevx9w18HD1fhRbCH67Az2dpCymeRE1SoPK6XQtaN2k"
BIP322_SIGNATURES = {  # BIP-322 "Message signing": both published signatures per message
    "": [
        "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40"
        "ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
        "AkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMdydVg"
        "zAEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ],
    "Hello World": [
        "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/s"
        "ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
        "AkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR8eGh"
        "owEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ],
}


def test_bip322_published_transaction_hashes():
    address = parse_address("bitcoin", BIP322_ADDRESS)
    expected = {  # message -> (to_spend txid, to_sign txid), as BIP-322 prints them
        "": ("c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7",
             "1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6"),
        "Hello World": ("b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b",
                        "88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf"),
    }
    for message, (spend, sign) in expected.items():
        spend_txid = to_spend_txid(message.encode(), p2wpkh_script(address.payload))
        assert spend_txid[::-1].hex() == spend
        assert to_sign_txid(spend_txid)[::-1].hex() == sign
    assert message_hash(b"Hello World").hex().startswith("f0eb03b1")


@pytest.mark.parametrize("message", list(BIP322_SIGNATURES))
def test_bip322_published_signatures_verify_and_rfc6979_reproduces_one(message):
    address = parse_address("bitcoin", BIP322_ADDRESS)
    for signature in BIP322_SIGNATURES[message]:
        verify_message(address, message.encode(), signature)
    secret = b58check_decode(BIP322_WIF)[1:33]
    ours = sign_message(secret, address, message.encode(), bitcoin_format=BitcoinFormat.BIP322_SIMPLE)
    assert ours == BIP322_SIGNATURES[message][1]  # the BIP's second signature is the RFC 6979 one
    _expect(Reason.WRONG_SIGNER, address, b"another message", ours)


def test_attack_bip322_high_s_and_foreign_key_are_refused():
    address = parse_address("bitcoin", BIP322_ADDRESS)
    raw = base64.b64decode(BIP322_SIGNATURES["Hello World"][1])
    der_length = raw[1]
    r, s = der_decode(raw[2:2 + der_length - 1])
    high = der_encode(r, secp256k1.N - s) + b"\x01"
    malleated = b"\x02" + bytes([len(high)]) + high + raw[2 + der_length:]
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"Hello World", base64.b64encode(malleated).decode())
    other = key("bitcoin", "someone else")
    foreign = sign_message(other.secret, other.address, b"Hello World", bitcoin_format=BitcoinFormat.BIP322_SIMPLE)
    _expect(Reason.WRONG_SIGNER, address, b"Hello World", foreign)


# -- EVM EIP-191 -------------------------------------------------------------------------------------

def test_eip191_equals_eth_account_byte_for_byte_and_recovers():
    for secret in _secrets(6):
        account = Account.from_key(secret)
        address = parse_address("ethereum", account.address)
        for text in MESSAGES:
            ours = sign_message(secret, address, text.encode())
            theirs = account.sign_message(encode_defunct(text.encode())).signature.hex()
            assert ours == "0x" + theirs.removeprefix("0x")
            assert Account.recover_message(encode_defunct(text.encode()), signature=ours) == account.address
            verify_message(address, text.encode(), ours)


def test_attack_eip191_high_s_malleated_signature_is_refused():
    secret = _secrets(7, 1)[0]
    address = parse_address("ethereum", Account.from_key(secret).address)
    raw = bytes.fromhex(sign_message(secret, address, b"hello")[2:])
    s = int.from_bytes(raw[32:64], "big")
    malleated = raw[:32] + (secp256k1.N - s).to_bytes(32, "big") + bytes([55 - raw[64]])
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"hello", "0x" + malleated.hex())


def test_eip191_refuses_wrong_v_upper_case_and_wrong_signer():
    secret = _secrets(8, 1)[0]
    address = parse_address("ethereum", Account.from_key(secret).address)
    signature = sign_message(secret, address, b"hello")
    raw = bytes.fromhex(signature[2:])
    _expect(Reason.SIGNATURE_MALFORMED, address, b"hello", "0x" + (raw[:64] + bytes([raw[64] - 27])).hex())
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"hello", "0x" + signature[2:].upper())
    _expect(Reason.SIGNATURE_MALFORMED, address, b"hello", signature[2:])
    other = parse_address("ethereum", Account.from_key(_secrets(9, 1)[0]).address)
    error = _expect(Reason.WRONG_SIGNER, other, b"hello", signature)
    assert address.text in str(error)  # names who did sign


# -- Solana ------------------------------------------------------------------------------------------

def test_solana_signatures_equal_pynacl_and_verify_both_ways():
    for secret in _secrets(10):
        signing_key = nacl.signing.SigningKey(secret)
        address = parse_address("solana", b58encode(bytes(signing_key.verify_key)))
        for text in MESSAGES:
            ours = sign_message(secret, address, text.encode())
            assert b58decode(ours) == signing_key.sign(text.encode()).signature
            signing_key.verify_key.verify(text.encode(), b58decode(ours))
            verify_message(address, text.encode(), ours)


def test_attack_solana_malleated_or_foreign_signature_is_refused():
    secret = _secrets(11, 1)[0]
    address = parse_address("solana", b58encode(bytes(nacl.signing.SigningKey(secret).verify_key)))
    raw = b58decode(sign_message(secret, address, b"hello"))
    s = int.from_bytes(raw[32:], "little")
    _expect(Reason.SIGNATURE_NON_CANONICAL, address, b"hello", b58encode(raw[:32] + (s + L).to_bytes(32, "little")))
    _expect(Reason.SIGNATURE_MALFORMED, address, b"hello", b58encode(raw[:63]))
    _expect(Reason.WRONG_SIGNER, address, b"hello!", b58encode(raw))
