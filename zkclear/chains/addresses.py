"""Addresses of each chain family, parsed strictly into one canonical text.

What is accepted (anything else is an InputError whose message says what is wrong):

- **Bitcoin P2PKH**: Base58Check of ``version || HASH160(public key)`` (21 bytes), version 0x00 on
  ``bitcoin`` (``1...``), 0x6f on ``bitcoin-testnet`` (``m...``/``n...``). The key hash does not say whether
  the key was compressed; the signature header does (docs/protocol.md).
- **Bitcoin P2WPKH**: segwit version 0 with a 20-byte program (BIP-173 Bech32), hrp ``bc`` / ``tb``,
  written in lower case (the canonical form; upper case is refused rather than normalised). Other
  segwit outputs (P2WSH, Taproot) and P2SH are refused: they have no BIP-137 form here.
- **EVM**: ``0x`` + 40 hex digits, either all lower case (no checksum, accepted as wallets print it) or
  mixed case that is exactly the EIP-55 checksum. Any other use of capitals (a wrong checksum, all
  capitals, an ``0X`` prefix) is refused. The canonical text is the EIP-55 form.
- **Solana**: Base58 of a 32-byte Ed25519 public key that a wallet can sign with: a canonical curve
  point of prime order (program-derived addresses are off the curve and small-order points let anyone
  forge signatures, so both are refused).

``parse_address`` returns the canonical text, so equal addresses compare equal as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from zkclear.chains import ed25519
from zkclear.chains.base58 import b58check_decode, b58check_encode, b58decode, b58encode
from zkclear.chains.bech32 import decode_segwit_address, encode_segwit_address
from zkclear.chains.hashes import hash160
from zkclear.chains.keccak import keccak256
from zkclear.chains.networks import CHAINS, Family, get_chain
from zkclear.errors import EncodingError, InputError

_P2SH_VERSIONS = {0x05: "bitcoin", 0xC4: "bitcoin-testnet"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
#: longer than any address accepted here (bech32 P2WPKH 42, Base58 P2PKH 34, EVM 42, Solana 44 characters)
MAX_ADDRESS_LENGTH = 100


class AddressKind(Enum):
    """What an address commits to, which decides how its signatures are checked."""

    P2PKH = "p2pkh"  # HASH160 of a secp256k1 key, Base58Check
    P2WPKH = "p2wpkh"  # HASH160 of a compressed secp256k1 key, segwit v0
    EVM = "evm"  # last 20 bytes of Keccak-256 of the uncompressed key
    SOLANA = "solana"  # the Ed25519 public key itself


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed address: its chain, kind, canonical text and payload.

    ``payload`` is the 20-byte key hash (P2PKH, P2WPKH), the 20-byte account (EVM) or the 32-byte
    public key (Solana).
    """

    chain: str
    kind: AddressKind
    text: str
    payload: bytes


def parse_address(chain: str, text: str) -> Address:
    """The address ``text`` on ``chain``; InputError (one line, naming the address) when invalid."""
    network = get_chain(chain)
    _check_text(text, "address")
    parser = {Family.BITCOIN: _parse_bitcoin, Family.EVM: _parse_evm, Family.SOLANA: _parse_solana}[network.family]
    return parser(network.name, text)


def parse_token_contract(chain: str, text: str) -> str:
    """A token's contract in its chain's canonical form; InputError (one line) otherwise. On an EVM chain the
    ERC-20 contract's address (EIP-55), as :func:`parse_address`. On Solana the SPL mint: 32 bytes in Base58,
    on the curve or not — nobody signs with a mint, and a mint may be a program-derived address (a reserve
    *address* must be a signing key and stays on the curve). Bitcoin has no tokens."""
    network = get_chain(chain)
    if network.family is not Family.SOLANA:
        if network.family is Family.BITCOIN:
            raise InputError(f"{network.name} has no tokens")
        return parse_address(chain, text).text
    _check_text(text, "mint")
    return b58encode(_solana_key(text, "mint"))


def _check_text(text: object, what: str) -> None:
    """InputError unless ``text`` is a non-empty printable ASCII string without surrounding spaces, no longer than
    any address (every message below echoes it: one short line)."""
    if not isinstance(text, str) or not text:
        raise InputError(f"empty {what}")
    if not text.isascii() or not text.isprintable() or text.strip() != text:  # echoed quoted and cut short
        raise InputError(f"{what} {text!r:.100} has characters outside printable ASCII or surrounding spaces")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise InputError(f"{what} {text[:24]}... has {len(text)} characters: no address is longer than "
                         f"{MAX_ADDRESS_LENGTH}")


def _solana_key(text: str, what: str) -> bytes:
    """The 32 bytes a Solana address or mint encodes in Base58; InputError otherwise."""
    try:
        key = b58decode(text)
    except EncodingError as exc:
        raise InputError(f"{what} {text} is not Base58 ({exc})") from exc
    if len(key) != 32:
        kind = "a 32-byte public key" if what == "address" else "32 bytes"
        raise InputError(f"{what} {text}: {len(key)} bytes, a Solana {what} is {kind}")
    return key


def _parse_bitcoin(chain: str, text: str) -> Address:
    network = CHAINS[chain]
    lowered = text.lower()
    for other in CHAINS.values():
        if other.family is Family.BITCOIN and lowered.startswith(f"{other.bech32_hrp}1"):
            if other.name != chain:
                raise InputError(f"address {text} is a {other.name} address, not {chain}")
            return _parse_segwit(chain, text)
    try:
        payload = b58check_decode(text)
    except EncodingError as exc:
        raise InputError(f"address {text} is not a valid Base58Check or bech32 address ({exc})") from exc
    if len(payload) != 21:
        raise InputError(f"address {text}: Base58Check payload of {len(payload)} bytes (a P2PKH address has 21)")
    version = payload[0]
    if version == network.p2pkh_version:
        return Address(chain, AddressKind.P2PKH, text, payload[1:])
    for other in CHAINS.values():
        if other.family is Family.BITCOIN and other.p2pkh_version == version:
            raise InputError(f"address {text} is a {other.name} address, not {chain}")
    if version in _P2SH_VERSIONS:
        raise InputError(f"address {text} is a P2SH address: only P2PKH and P2WPKH addresses are supported")
    raise InputError(f"address {text}: unknown Base58Check version byte 0x{version:02x}")


def _parse_segwit(chain: str, text: str) -> Address:
    hrp = CHAINS[chain].bech32_hrp
    assert hrp is not None
    if text != text.lower():
        raise InputError(f"address {text}: write bech32 addresses in lower case (the canonical form)")
    try:
        version, program = decode_segwit_address(hrp, text)
    except EncodingError as exc:
        raise InputError(f"address {text} is not a valid segwit address ({exc})") from exc
    if version != 0 or len(program) != 20:
        kind = "P2WSH" if version == 0 else ("Taproot" if version == 1 else f"segwit v{version}")
        raise InputError(f"address {text} is a {kind} address: only P2PKH and P2WPKH addresses are supported")
    return Address(chain, AddressKind.P2WPKH, text, program)


def eip55_checksum(account: bytes) -> str:
    """The EIP-55 text of a 20-byte account: hex digit i is upper case iff nibble i of
    Keccak-256(lower-case hex) is >= 8."""
    lower = account.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def _parse_evm(chain: str, text: str) -> Address:
    body = text[2:]
    if not text.startswith("0x") or len(body) != 40 or not set(body) <= _HEX_DIGITS:
        raise InputError(f"address {text} is not an EVM address ('0x' and 40 hex digits)")
    account = bytes.fromhex(body)
    canonical = eip55_checksum(account)
    if body != body.lower() and text != canonical:
        raise InputError(f"address {text}: EIP-55 checksum mismatch (expected {canonical})")
    return Address(chain, AddressKind.EVM, canonical, account)


def _parse_solana(chain: str, text: str) -> Address:
    key = _solana_key(text, "address")
    try:
        ed25519.check_public_key(key)
    except EncodingError as exc:
        raise InputError(f"address {text} cannot sign: {exc} (e.g. a program-derived address)") from exc
    return Address(chain, AddressKind.SOLANA, b58encode(key), key)


# -- addresses of public keys -----------------------------------------------------------------------

def bitcoin_address(chain: str, kind: AddressKind, public_key: bytes) -> Address:
    """The P2PKH or P2WPKH address of a SEC 1 encoded secp256k1 key (P2WPKH needs the 33-byte form)."""
    network = get_chain(chain)
    if network.family is not Family.BITCOIN:
        raise InputError(f"{chain} is not a bitcoin chain")
    key_hash = hash160(public_key)
    if kind is AddressKind.P2PKH:
        assert network.p2pkh_version is not None
        return Address(chain, kind, b58check_encode(bytes([network.p2pkh_version]) + key_hash), key_hash)
    if kind is AddressKind.P2WPKH:
        if len(public_key) != 33:
            raise InputError("a P2WPKH address needs a compressed (33-byte) public key")
        assert network.bech32_hrp is not None
        return Address(chain, kind, encode_segwit_address(network.bech32_hrp, 0, key_hash), key_hash)
    raise InputError(f"{kind.value} is not a bitcoin address kind")


def evm_address(chain: str, public_key: bytes) -> Address:
    """The EVM address of an uncompressed secp256k1 key (65 bytes, 04 || x || y)."""
    if get_chain(chain).family is not Family.EVM:
        raise InputError(f"{chain} is not an EVM chain")
    if len(public_key) != 65 or public_key[0] != 4:
        raise InputError("an EVM address needs the uncompressed (65-byte) public key")
    account = keccak256(public_key[1:])[12:]
    return Address(chain, AddressKind.EVM, eip55_checksum(account), account)


def solana_address(chain: str, public_key: bytes) -> Address:
    """The Solana address of a 32-byte Ed25519 public key."""
    if get_chain(chain).family is not Family.SOLANA:
        raise InputError(f"{chain} is not a Solana chain")
    return _parse_solana(chain, b58encode(public_key))
