"""Every reason code a verifier reports, with what it means in plain words (docs/protocol.md, "Reason codes").

A failure always carries its own message with the values involved; :func:`explain` is the fallback for a bare
reason code and the table the documentation and the browser page show.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    "header-mismatch": "the epoch's header hash is not the one the venue posted publicly: you may be shown a "
                       "different epoch than everyone else",
    "public-data-mismatch": "the public risk data or public inputs are not the ones the epoch header binds",
    "public-inputs-invalid": "the published public inputs (configuration, marks, oracle quotes, volatilities) do "
                             "not clear",
    "public-inputs-mismatch": "the values the operator derived (marks, fractions, option values) are not what the "
                              "published inputs give",
    "public-data-recomputed": "the risk data the proofs use is not the one recomputed from the published inputs",
    "dynamic-parameters-mismatch": "the dynamic margin parameters are not the ones the published price history gives",
    "marks-beyond-tolerance": "a published mark is further from your own price than the tolerance",
    "vols-beyond-tolerance": "a published implied volatility is further from your own than the tolerance",
    "receipt-owner": "the receipt is for another account than yours",
    "account-key-mismatch": "the receipt's account key is not the one you pinned",
    "account-key-changed": "your account key changed between epochs (the operator rotated your salt)",
    "receipt-epoch-mismatch": "the receipt is for another epoch than the published one",
    "receipt-malformed": "the receipt does not have the tree's shape",
    "leaf-mismatch": "the leaf your receipt points to does not carry your account id",
    "opening-mismatch": "the values in your receipt do not open your leaf's commitments",
    "account-values-mismatch": "your committed balance, positions or margin mode are not the ones you expect",
    "path-root-mismatch": "your leaf and path do not lead to the published root: your account is not in the tree",
    "matched-book": "the positions of all accounts in an instrument do not sum to zero: the book is not matched",
    "reserves-mismatch": "the reserves list is not the one the epoch header binds, lists an asset or chain the "
                         "epoch does not have, counts one coin for two assets, reads a chain at an older block than "
                         "the latest earlier epoch that listed it, or its totals are not the header's (reserves of "
                         "one asset counted for another)",
    "attestation-signature-malformed": "a reserve attestation's signature does not decode, or recovers no key",
    "attestation-signature-non-canonical": "a reserve attestation's signature is a malleated or non-canonical copy",
    "attestation-wrong-signer": "a reserve attestation was signed by another key than the listed address's",
    "attestation-text-malformed": "what a reserve address signed is not a zkclear attestation text",
    "attestation-wrong-venue": "a reserve attestation was signed for another venue",
    "attestation-replayed-epoch": "a reserve attestation was signed for another epoch (a replayed signature)",
    "attestation-wrong-header": "a reserve attestation was signed for another epoch header",
    "attestation-wrong-root": "a reserve attestation was signed for another tree root",
    "attestation-wrong-chain": "a reserve attestation was signed for another chain",
    "attestation-wrong-address": "a reserve attestation was signed for another address",
    "attestation-wrong-asset": "a reserve attestation was signed for another asset",
    "attestation-balance-mismatch": "a listed reserve balance differs from the balance its custodian signed",
    "attestation-block-mismatch": "a listed reserve's block differs from the block its custodian signed",
    "attestation-duplicate": "a reserve address is attested twice",
    "attestation-missing": "a listed reserve address has not attested this epoch",
    "attestation-unlisted": "an attestation is for an address that is not listed in the reserves",
    "reserves-duplicate-address": "a reserve address is listed twice for one asset on one chain",
    "solvency-proof": "the solvency proof does not verify: the reserves may not cover the total liabilities",
    "chunk-collateral-proof": "a chunk's collateralization proof does not verify: an account may be below its "
                              "maintenance margin",
    "sibling-range-proof": "a sibling node's range proof on your path does not verify: it may hide a negative value",
    "node-range-proof": "a tree node's range proof does not verify: it may hide a negative value",
    "account-shape": "an account's commitments do not fit the epoch's statements (wrong instrument count or an "
                     "unsupported margin mode)",
    "chunk-size-mismatch": "a chunk does not have the size the header says",
    "chunk-root-mismatch": "a chunk's leaves do not sum to its published root",
    "chunk-position-vector": "a chunk's position vector is not proven to commit to its accounts' positions: the "
                             "matched book might not count them",
    "chunk-count-policy": "the number of chunks is not one the padding policy produces (it would reveal the count)",
    "duplicate-leaf": "two leaves carry the same id hash",
    "padding-node-missing": "a node needed on a populated path is missing from the audit data",
    "padding-node-nonzero": "a padding node does not commit to zero",
    "node-sum-mismatch": "a tree node is not the sum of its children",
    "node-hash-mismatch": "a tree node's digest does not hash its children",
    "root-mismatch": "the tree rebuilt from the audit data does not give the bundle's root",
    "audit-structure": "the audit data publishes nodes that are not on the tree's populated paths, or lacks some",
    "audit-epoch-mismatch": "the audit data is for another epoch",
    "epoch-chain-broken": "an epoch does not name the previous epoch's header hash and root",
    "history-duplicate": "the same epoch is given twice",
    "insurance-fund-unpublished": "the configuration publishes the insurance fund's receipt with every epoch, and "
                                  "this epoch's is missing",
    "insurance-fund-holdings": "the insurance fund's published leaf holds a position or a collateral balance, which "
                               "the engine never gives it (a position's value would take off what its cash shows)",
    "epoch-forked": "two versions of the same epoch are given (two header hashes): the venue showed different people "
                    "different trees for one epoch, unless one of them is not the venue's",
    "total-liabilities-opening": "the auditor's total-liabilities file does not open the root's liabilities or "
                                 "exceeds some asset's reserves",
}


def explain(reason: str, index: int | None = None) -> str:
    """Plain words for a reason code (and the item it concerns)."""
    text = REASONS.get(reason, reason)
    return text if index is None else f"{text} (item {index})"
