"""zkclear.chains runs on the standard library alone (the browser/Pyodide and auditor path): in a
subprocess where coincurve, PyNaCl, eth-account, pycryptodome, py_ecc and the other native or
reference libraries cannot be imported, it verifies one attestation per chain made with those
libraries present, and what it signs there verifies with them here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nacl.signing
from bitcoin.signmessage import BitcoinMessage, VerifyMessage
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.chains.chain_fixtures import CONTEXT, entry_for, key, secret
from zkclear.chains import secp256k1
from zkclear.chains.addresses import AddressKind, bitcoin_address
from zkclear.chains.attestation_text import render_attestation_text
from zkclear.chains.base58 import b58decode
from zkclear.chains.keys import key_from_secret, sign_attestation_text

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ["coincurve", "nacl", "eth_account", "eth_keys", "eth_hash", "eth_utils", "Crypto", "Cryptodome",
           "py_ecc", "bitcoin", "embit", "bech32", "numpy", "galois", "numba", "gmpy2"]

CHILD = r'''
import importlib.abc, json, sys

BLOCKED = set(sys.argv[1].split(","))


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None


sys.meta_path.insert(0, Blocker())
request = json.load(sys.stdin)

import zkclear.chains as chains
from zkclear.chains import secp256k1
from zkclear.errors import VerificationError

context = chains.AttestationContext(request["venue"], request["epoch"], bytes.fromhex(request["header"]),
                                    bytes.fromhex(request["root"]))
verified, refused, signed = [], [], []
for item in request["attestations"]:
    entry = chains.ReserveEntry(**item["entry"])
    attestation = chains.Attestation(**item["attestation"])
    chains.verify_attestation(entry, attestation, context)
    verified.append(entry.chain)
    inflated = chains.ReserveEntry(**{**item["entry"], "balance": entry.balance + 1})
    try:
        chains.verify_attestation(inflated, attestation, context)
    except VerificationError as exc:
        refused.append(exc.reason)
for item in request["to_sign"]:
    key = chains.key_from_secret(item["chain"], bytes.fromhex(item["secret"]))
    entry = chains.ReserveEntry(**item["entry"])
    text = chains.render_attestation_text(context, entry)
    signed.append(chains.sign_attestation_text(key, text).signature)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in BLOCKED)
zkclear_modules = sorted(n for n in sys.modules if n.startswith("zkclear") and not n.startswith("zkclear.chains"))
print(json.dumps({"verified": verified, "refused": refused, "signed": signed, "blocked_loaded": loaded,
                  "accelerated": secp256k1._coincurve("auto") is not None, "zkclear_modules": zkclear_modules}))
'''


def _entry_json(entry) -> dict:
    return {"chain": entry.chain, "asset": entry.asset, "address": entry.address, "balance": entry.balance,
            "block_height": entry.block_height, "block_hash": entry.block_hash}


def test_verifies_and_signs_one_attestation_per_chain_with_only_the_standard_library():
    chains = ["bitcoin", "bitcoin-testnet", "ethereum", "solana"]
    attestations = []
    for chain in chains:  # made here, where coincurve accelerates signing
        demo_key = key(chain)
        entry = entry_for(demo_key)
        attestation = sign_attestation_text(demo_key, render_attestation_text(CONTEXT, entry))
        attestations.append({"entry": _entry_json(entry), "attestation": {
            "chain": attestation.chain, "address": attestation.address, "text": attestation.text,
            "signature": attestation.signature}})
    p2pkh = key_from_secret("bitcoin", secret("child"), _p2pkh_address(secret("child")))
    to_sign = [
        {"chain": chain, "secret": secret("child").hex(), "entry": _entry_json(entry_for(child_key))}
        for chain, child_key in (("ethereum", key("ethereum", "child")), ("solana", key("solana", "child")),
                                 ("bitcoin", p2pkh))
    ]
    request = {"venue": CONTEXT.venue, "epoch": CONTEXT.epoch, "header": CONTEXT.header_hash.hex(),
               "root": CONTEXT.root.hex(), "attestations": attestations, "to_sign": to_sign}
    result = subprocess.run([sys.executable, "-c", CHILD, ",".join(BLOCKED)], input=json.dumps(request),
                            capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verified"] == chains
    assert report["refused"] == ["attestation-balance-mismatch"] * len(chains)
    assert report["blocked_loaded"] == [] and report["accelerated"] is False
    assert report["zkclear_modules"] == ["zkclear", "zkclear.errors"]
    ethereum_signature, solana_signature, bitcoin_signature = report["signed"]
    ethereum_key, solana_key = key("ethereum", "child"), key("solana", "child")
    ethereum_text = render_attestation_text(CONTEXT, entry_for(ethereum_key))
    solana_text = render_attestation_text(CONTEXT, entry_for(solana_key))
    bitcoin_text = render_attestation_text(CONTEXT, entry_for(p2pkh))
    recovered = Account.recover_message(encode_defunct(text=ethereum_text), signature=ethereum_signature)
    assert recovered == ethereum_key.address.text
    nacl.signing.VerifyKey(solana_key.address.payload).verify(solana_text.encode(), b58decode(solana_signature))
    assert VerifyMessage(p2pkh.address.text, BitcoinMessage(bitcoin_text), bitcoin_signature)


def _p2pkh_address(secret_bytes: bytes) -> str:
    point = secp256k1.public_key(secret_bytes)
    return bitcoin_address("bitcoin", AddressKind.P2PKH, secp256k1.encode_point(point)).text
