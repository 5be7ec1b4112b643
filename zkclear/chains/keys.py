"""Test keys for reserve attestations: create, store, show, sign (demos and tests only).

Production custodians sign the attestation text with the wallet they already have (Bitcoin Core,
Electrum, Sparrow, a hardware wallet, MetaMask, Phantom...); this module exists so a demo or a test
can play the custodian. Key files (docs/format.md, "Key files (test keys)") are one line of JSON::

    {"format": "zkclear-test-key/v1", "chain": "bitcoin", "address": "bc1q...", "secret": "<64 hex>"}

``secret`` is the 32-byte secp256k1 private key (Bitcoin, EVM) or Ed25519 seed (Solana) in lower-case
hex; ``address`` is the address the key was created for (a Bitcoin key also controls its other
address kinds, an EVM key its address on every EVM chain). Files are created with mode 0600 and
never overwritten; a key file readable by group or others, or whose address does not derive from its
secret, is refused.

Refusals name the address: a key that controls no listed reserve address, and an address that is
already attested (a duplicate signature), are InputErrors at signing time.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zkclear.chains import ed25519, secp256k1
from zkclear.chains.addresses import (
    Address,
    AddressKind,
    bitcoin_address,
    evm_address,
    parse_address,
    solana_address,
)
from zkclear.chains.attestation_text import AttestationContext, parse_attestation_text, render_attestation_text
from zkclear.chains.networks import CHAINS, Family, get_chain
from zkclear.chains.reserves import ReserveEntry
from zkclear.chains.schemes import BitcoinFormat, sign_message
from zkclear.chains.verification import Attestation
from zkclear.errors import EncodingError, InputError

FORMAT = "zkclear-test-key/v1"
_FIELDS = ("format", "chain", "address", "secret")
#: A key file is a few hundred bytes; a larger one is refused before it is read.
MAX_KEY_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class DemoKey:
    """A demo or test key: its chain, the address it was created for, and the 32-byte secret (never printed)."""


    chain: str
    address: Address
    secret: bytes = field(repr=False)


def _addresses_of(chain: str, secret: bytes) -> tuple[Address, ...]:
    """Every address the secret controls on ``chain`` (the preferred one first)."""
    family = get_chain(chain).family
    if family is Family.SOLANA:
        return (solana_address(chain, ed25519.public_key(secret)),)
    point = secp256k1.public_key(secret)
    if family is Family.EVM:
        return (evm_address(chain, secp256k1.encode_point(point, compressed=False)),)
    compressed = secp256k1.encode_point(point, compressed=True)
    return (
        bitcoin_address(chain, AddressKind.P2WPKH, compressed),
        bitcoin_address(chain, AddressKind.P2PKH, compressed),
        bitcoin_address(chain, AddressKind.P2PKH, secp256k1.encode_point(point, compressed=False)),
    )


def generate_key(chain: str, *, kind: AddressKind | None = None) -> DemoKey:
    """A fresh random key for ``chain``; on Bitcoin ``kind`` picks P2WPKH (default) or P2PKH (compressed)."""
    family = get_chain(chain).family
    if kind is not None and (family is not Family.BITCOIN or kind not in (AddressKind.P2WPKH, AddressKind.P2PKH)):
        raise InputError(f"--type applies to bitcoin chains (p2wpkh or p2pkh), not {kind.value} on {chain}")
    while True:
        secret = secrets.token_bytes(32)
        try:
            addresses = _addresses_of(chain, secret)
        except EncodingError:  # a secp256k1 secret >= N (probability ~2^-128): draw again
            continue
        address = addresses[1] if kind is AddressKind.P2PKH else addresses[0]
        return DemoKey(chain, address, secret)


def key_from_secret(chain: str, secret: bytes, address: str | None = None) -> DemoKey:
    """The key of ``secret`` on ``chain`` for ``address`` (default: its preferred address); InputError if
    the secret is invalid or does not control ``address``."""
    try:
        addresses = _addresses_of(chain, secret)
    except EncodingError as exc:
        raise InputError(f"invalid secret for {chain}: {exc}") from exc
    if address is None:
        return DemoKey(chain, addresses[0], secret)
    wanted = parse_address(chain, address)
    if wanted not in addresses:
        raise InputError(f"the secret does not control address {address} on {chain}")
    return DemoKey(chain, wanted, secret)


def controls(key: DemoKey, address: Address) -> bool:
    """True iff the key can sign for ``address``: same Bitcoin network, any EVM chain, Solana."""
    key_family = CHAINS[key.chain].family
    if CHAINS[address.chain].family is not key_family:
        return False
    if key_family is Family.BITCOIN and address.chain != key.chain:
        return False
    return any(own.kind is address.kind and own.payload == address.payload
               for own in _addresses_of(address.chain, key.secret))


def encode_key(key: DemoKey) -> str:
    """The key file's content (one line of JSON and a newline)."""
    record = {"format": FORMAT, "chain": key.chain, "address": key.address.text, "secret": key.secret.hex()}
    return json.dumps(record, separators=(", ", ": ")) + "\n"


def write_key(path: str | Path, key: DemoKey) -> None:
    """Create ``path`` with mode 0600 holding the key; InputError if it exists (never overwritten)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InputError("refusing to overwrite an existing file", path=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot create: {exc.strerror}", path=str(path)) from exc
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(encode_key(key))


def _unique_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [name for name, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def decode_key(text: str, *, path: str | None = None) -> DemoKey:
    """The key of a key file's content; InputError naming the file and field when anything is off."""
    # json.loads recurses in C per level; with the recursion limit raised (py_ecc raises it at import) a file of
    # '[' overflows the C stack. A key file is one flat object: more than 32 brackets bound its depth first.
    if text.count("[") + text.count("{") > 32:
        raise InputError("not a zkclear test key file (JSON nested too deeply)", path=path, line=1)
    try:
        record = json.loads(text, object_pairs_hook=_unique_object)
    except ValueError as exc:
        raise InputError(f"not a zkclear test key file (invalid JSON: {exc})", path=path, line=1) from exc
    if not isinstance(record, dict) or tuple(sorted(record)) != tuple(sorted(_FIELDS)):
        raise InputError(f"a key file is one JSON object with exactly the fields {', '.join(_FIELDS)}",
                         path=path, line=1)
    if record["format"] != FORMAT:
        raise InputError(f"unknown key file format {record['format']!r} (expected {FORMAT})", path=path, line=1,
                         field="format")
    for name in ("chain", "address", "secret"):
        if not isinstance(record[name], str):
            raise InputError("must be a string", path=path, line=1, field=name)
    secret_hex = record["secret"]
    if len(secret_hex) != 64 or not set(secret_hex) <= set("0123456789abcdef"):
        raise InputError("must be 64 lower-case hex digits", path=path, line=1, field="secret")
    def canonical_address() -> None:
        canonical = parse_address(record["chain"], record["address"]).text
        if canonical != record["address"]:
            raise InputError(f"address {record['address']} is not in canonical form (write {canonical})")

    for name, check in (("chain", lambda: get_chain(record["chain"])), ("address", canonical_address)):
        try:
            check()
        except InputError as exc:
            raise InputError(exc.detail, path=path, line=1, field=name) from exc
    try:
        return key_from_secret(record["chain"], bytes.fromhex(secret_hex), record["address"])
    except InputError as exc:
        raise InputError(exc.detail, path=path, line=1, field="secret") from exc


def load_key(path: str | Path) -> DemoKey:
    """Read a key file; refuses one that group or others may read (as ssh does)."""
    from zkclear.files import read_file  # here: importing zkclear.chains loads no other zkclear module

    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = read_file(path, limit=MAX_KEY_FILE_BYTES).decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError("not a zkclear test key file (not ASCII)", path=str(path)) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"key file permissions {stat.S_IMODE(mode):04o} are too open: chmod 600 {path}",
                         path=str(path))
    return decode_key(text, path=str(path))


def sign_attestation_text(key: DemoKey, text: str, *,
                          bitcoin_format: BitcoinFormat = BitcoinFormat.BIP137) -> Attestation:
    """Sign a canonical attestation text with the key of the address it names.

    InputError when the text is not a canonical attestation text, or names an address the key does not
    control (the message names both addresses).
    """
    _, entry = parse_attestation_text(text)
    address = parse_address(entry.chain, entry.address)
    if not controls(key, address):
        raise InputError(f"key for {key.address.text} ({key.chain}) does not control address {address.text} "
                         f"on {address.chain}")
    signature = sign_message(key.secret, address, text.encode("ascii"), bitcoin_format=bitcoin_format)
    return Attestation(entry.chain, entry.address, text, signature)


def check_signers(keys: Sequence[DemoKey], entries: Sequence[ReserveEntry],
                  already_attested: Sequence[Attestation] = ()) -> None:
    """Before anything is proven or signed: InputError, naming the address, when a key controls no listed reserve
    address, or when a listed address would be signed twice (by two of ``keys``, or again after
    ``already_attested``)."""
    signer: dict[tuple[str, str, str | None], str] = {attestation.key: "an earlier attestation"
                                                      for attestation in already_attested}
    for key in keys:
        mine = [entry for entry in entries if controls(key, parse_address(entry.chain, entry.address))]
        if not mine:
            raise InputError(f"key for {key.address.text} ({key.chain}) controls no listed reserve address")
        for entry in mine:
            if entry.key in signer:
                raise InputError(f"address {entry.address} on {entry.chain} would be signed twice for {entry.asset} "
                                 f"(by the key for {key.address.text} and {signer[entry.key]}): a duplicate signature")
            signer[entry.key] = f"the key for {key.address.text}"


def attest_reserves(key: DemoKey, context: AttestationContext, entries: Sequence[ReserveEntry],
                    already_attested: Sequence[Attestation] = (), *,
                    bitcoin_format: BitcoinFormat = BitcoinFormat.BIP137) -> tuple[Attestation, ...]:
    """Attestations by ``key`` for every listed entry it controls and ``already_attested`` does not hold (an
    address listed for two assets may have had one signed with the custodian's wallet already).

    InputError, naming the address, when the key controls no listed address or when every entry it controls
    is already attested: a second signature for one entry is never made.
    """
    done = {attestation.key for attestation in already_attested}
    mine = [entry for entry in entries if controls(key, parse_address(entry.chain, entry.address))]
    if not mine:
        raise InputError(f"key for {key.address.text} ({key.chain}) controls no listed reserve address")
    todo = [entry for entry in mine if entry.key not in done]
    if not todo:
        held = ", ".join(sorted(f"{entry.asset} on {entry.chain}" for entry in mine))
        raise InputError(f"address {mine[0].address} on {mine[0].chain} is already attested (every entry the key "
                         f"controls: {held}; a duplicate signature)")
    return tuple(sign_attestation_text(key, render_attestation_text(context, entry), bitcoin_format=bitcoin_format)
                 for entry in todo)
