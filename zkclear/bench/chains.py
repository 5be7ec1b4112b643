"""``zkclear bench chains``: the cost of checking reserve attestations, per chain scheme.

Figures (docs/performance.md, "Reserve attestations across chains"), milliseconds per attestation for
:func:`zkclear.chains.verify_attestation` (signature, strict text parse and field comparison), the best of
N runs (on a shared machine the slower runs measure the other load):

- ``<scheme>_verify_ms_pure``: the standard-library path (what runs in Pyodide and for an auditor
  without native packages), measured in a subprocess where coincurve cannot be imported;
- ``<scheme>_verify_ms_accelerated``: the same call in this process, where coincurve (libsecp256k1)
  recovers secp256k1 keys when it is installed (Ed25519 and BIP-322 always run in pure Python);
- ``keccak256_us``: one Keccak-256 of an attestation text, microseconds.

Schemes: ``bip137_p2wpkh``, ``bip137_p2pkh``, ``bip322_p2wpkh``, ``eip191``, ``solana``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable

from zkclear.chains import (
    AddressKind,
    Attestation,
    AttestationContext,
    BitcoinFormat,
    ReserveEntry,
    key_from_secret,
    render_attestation_text,
    sign_attestation_text,
    verify_attestation,
)
from zkclear.chains.addresses import bitcoin_address
from zkclear.chains.keccak import keccak256

CONTEXT = ("Bench Venue", 1, hashlib.sha256(b"header").hexdigest(), hashlib.sha256(b"root").hexdigest())
BLOCKS = {
    "bitcoin": (840000, "0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5"),
    "ethereum": (19000000, "0x" + hashlib.sha256(b"block").hexdigest()),
    "solana": (250000000, "4sGjMW1sUnHzSxGspuhpqLDx6wiyjNtZAMdL4VZHirAn"),
}


def _context(values) -> AttestationContext:
    venue, epoch, header, root = values
    return AttestationContext(venue, epoch, bytes.fromhex(header), bytes.fromhex(root))


def _cases() -> dict[str, tuple[ReserveEntry, Attestation]]:
    from zkclear.chains import secp256k1

    secret = hashlib.sha256(b"bench key").digest()
    context = _context(CONTEXT)
    point = secp256k1.public_key(secret)
    p2pkh = bitcoin_address("bitcoin", AddressKind.P2PKH, secp256k1.encode_point(point)).text
    specs = {
        "bip137_p2wpkh": ("bitcoin", "BTC", None, BitcoinFormat.BIP137),
        "bip137_p2pkh": ("bitcoin", "BTC", p2pkh, BitcoinFormat.BIP137),
        "bip322_p2wpkh": ("bitcoin", "BTC", None, BitcoinFormat.BIP322_SIMPLE),
        "eip191": ("ethereum", "ETH", None, BitcoinFormat.BIP137),
        "solana": ("solana", "SOL", None, BitcoinFormat.BIP137),
    }
    cases = {}
    for scheme, (chain, asset, address, bitcoin_format) in specs.items():
        key = key_from_secret(chain, secret, address)
        entry = ReserveEntry(chain, asset, key.address.text, 123_456_789, *BLOCKS[chain])
        text = render_attestation_text(context, entry)
        cases[scheme] = (entry, sign_attestation_text(key, text, bitcoin_format=bitcoin_format))
    return cases


def _best_ms(operation: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in ms: on a shared machine the slower runs measure the other load."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        operation()
        timings.append(time.perf_counter() - started)
    return min(timings) * 1000


def time_verifications(repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` milliseconds of verify_attestation per scheme, with this process's engines."""
    context = _context(CONTEXT)
    return {scheme: _best_ms(lambda e=entry, a=attestation: verify_attestation(e, a, context), repeats)
            for scheme, (entry, attestation) in _cases().items()}


_PURE_CHILD = r"""
import importlib.abc, json, sys


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"coincurve", "nacl", "Crypto", "py_ecc", "gmpy2"}:
            raise ImportError(name)
        return None


sys.meta_path.insert(0, Blocker())
from zkclear.bench.chains import time_verifications

print(json.dumps(time_verifications(int(sys.argv[1]))))
"""


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    repeats = 5 if quick else 21
    accelerated = time_verifications(repeats)
    child = subprocess.run([sys.executable, "-c", _PURE_CHILD, str(repeats)], capture_output=True, text=True,
                           check=True)
    pure = json.loads(child.stdout)
    text = next(iter(_cases().values()))[1].text.encode("ascii")
    keccak_us = _best_ms(lambda: keccak256(text), repeats * 10) * 1000
    metrics: dict[str, float] = {}
    echo(f"verify_attestation, best of {repeats} (ms per attestation): pure Python | this process")
    for scheme in accelerated:
        metrics[f"{scheme}_verify_ms_pure"] = round(pure[scheme], 3)
        metrics[f"{scheme}_verify_ms_accelerated"] = round(accelerated[scheme], 3)
        echo(f"  {scheme:<14} {pure[scheme]:8.2f} | {accelerated[scheme]:8.2f}")
    metrics["keccak256_us"] = round(keccak_us, 1)
    echo(f"  keccak256 of the {len(text)}-byte text: {keccak_us:.0f} us")
    return metrics
