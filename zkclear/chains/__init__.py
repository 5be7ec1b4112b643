"""Reserve attestations across chains: real addresses, each chain's standard signed messages, pure Python.

Everything here uses only the Python standard library (coincurve, when importable, accelerates secp256k1
signing and key recovery with byte-identical results), so the same code verifies attestations in the
CLI, for an auditor and in a participant's browser (Pyodide). It imports nothing from zkclear but
zkclear.errors. Specification: docs/protocol.md, "Reserve attestations across chains"; file formats:
docs/format.md, "reserves.csv v2" and "Key files (test keys)".

Public API (re-exported here; one module per job):

Reserves and attestations (what the epoch integration uses)
    ReserveEntry(chain, asset, address, balance, block_height, block_hash)   -- reserves
    parse_reserves_csv(text, *, path=None) -> tuple[ReserveEntry, ...]       -- reserves
    load_reserves(path) -> tuple[ReserveEntry, ...]                          -- reserves
    reserve_totals(entries) -> dict[(chain, asset), int]                     -- reserves
    AttestationContext(venue, epoch, header_hash, root)                      -- attestation_text
    render_attestation_text(context, entry) -> str                          -- attestation_text
    parse_attestation_text(text) -> (AttestationContext, ReserveEntry)      -- attestation_text
    Attestation(chain, address, text, signature)                            -- verification
    verify_attestation(entry, attestation, context) -> None                  -- verification
    verify_attestations(entries, attestations, context) -> None              -- verification
    Reason (reason codes of VerificationError)                               -- reasons

Chains and addresses
    CHAINS, Chain, Family, get_chain(name)                                   -- networks
    Address, AddressKind, parse_address(chain, text) -> Address              -- addresses
    check_block_hash(chain, text), check_block_height(height)                -- blocks

Signed messages (each chain's standard format)
    sign_message(secret, address, message, *, bitcoin_format) -> str         -- schemes
    verify_message(address, message, signature) -> None                     -- schemes
    BitcoinFormat (BIP137, BIP322_SIMPLE)                                    -- schemes

Demo and test keys (the CLI's ``zkclear keys``)
    DemoKey, generate_key(chain, *, kind=None), key_from_secret(chain, secret, address=None),
    write_key(path, key), load_key(path), controls(key, address),
    sign_attestation_text(key, text, *, bitcoin_format) -> Attestation,
    attest_reserves(key, context, entries, already_attested=(), *, bitcoin_format) -> tuple[Attestation, ...],
    check_signers(keys, entries, already_attested=())                        -- keys

Primitives (modules, not re-exported): secp256k1, ed25519, keccak (keccak256), ripemd160, hashes
(hash160, double_sha256, tagged_hash), base58, bech32, der, bitcoin_message (BIP-137), bip322,
evm_message (EIP-191), solana_message.
"""

from zkclear.chains.addresses import Address, AddressKind, parse_address
from zkclear.chains.attestation_text import AttestationContext, parse_attestation_text, render_attestation_text
from zkclear.chains.blocks import check_block_hash, check_block_height
from zkclear.chains.keys import (
    DemoKey,
    attest_reserves,
    check_signers,
    controls,
    generate_key,
    key_from_secret,
    load_key,
    sign_attestation_text,
    write_key,
)
from zkclear.chains.networks import CHAINS, Chain, Family, get_chain
from zkclear.chains.reasons import Reason
from zkclear.chains.reserves import ReserveEntry, load_reserves, parse_reserves_csv, reserve_totals
from zkclear.chains.schemes import BitcoinFormat, sign_message, verify_message
from zkclear.chains.verification import Attestation, verify_attestation, verify_attestations

__all__ = [
    "CHAINS",
    "Address",
    "AddressKind",
    "Attestation",
    "AttestationContext",
    "BitcoinFormat",
    "Chain",
    "DemoKey",
    "Family",
    "Reason",
    "ReserveEntry",
    "attest_reserves",
    "check_block_hash",
    "check_block_height",
    "check_signers",
    "controls",
    "generate_key",
    "get_chain",
    "key_from_secret",
    "load_key",
    "load_reserves",
    "parse_address",
    "parse_attestation_text",
    "parse_reserves_csv",
    "render_attestation_text",
    "reserve_totals",
    "sign_attestation_text",
    "sign_message",
    "verify_attestation",
    "verify_attestations",
    "verify_message",
    "write_key",
]
