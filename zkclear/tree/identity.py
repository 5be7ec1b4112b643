"""Whose leaf is it: the account key, the per-epoch salt and the salted id hash (docs/protocol.md, "Leaf
identity").

- ``account_key`` k_u (32 bytes) is issued to the participant when their account opens and never changes:
  the operator derives it from its secret, ``k_u = enc32(HMAC-SHA-512(secret, "zkclear/account-key/v1", id)
  mod r)`` (:meth:`zkclear.crypto.randomness.BlindingSource.scalar`), so it is stable for the deployment's
  life and needs no storage;
- ``salt_e = HMAC-SHA256(k_u, "zkclear/leaf-salt/v1" || u64(e))`` for epoch e: a participant who holds k_u
  re-derives every epoch's salt, and the salts (hence the id hashes) of different epochs are unlinkable for
  anyone without k_u;
- ``id_hash = SHA256("zkclear/tree/account-id/v1" || u32(len(salt)) || salt || utf8(id))``.

The id hash binds the account id, so two accounts can never share a leaf, and a participant's check compares
the leaf with the hash of *their own* id (given on the command line, never read from the receipt).
"""

from __future__ import annotations

import hashlib
import hmac
import struct

DOMAIN_ACCOUNT_ID = b"zkclear/tree/account-id/v1"
DOMAIN_LEAF_SALT = b"zkclear/leaf-salt/v1"
ACCOUNT_KEY_LABEL = "zkclear/account-key/v1"
ACCOUNT_KEY_BYTES = 32


def leaf_salt(account_key: bytes, epoch: int) -> bytes:
    """The salt of the account's leaf in ``epoch`` (see the module docstring)."""
    return hmac.new(bytes(account_key), DOMAIN_LEAF_SALT + struct.pack(">Q", epoch), hashlib.sha256).digest()


def account_id_hash(account_id: str, salt: bytes) -> bytes:
    """The salted hash that lets a participant recognize their leaf and hides the id from others."""
    return hashlib.sha256(
        DOMAIN_ACCOUNT_ID + struct.pack(">I", len(salt)) + salt + account_id.encode("utf-8")
    ).digest()


def leaf_id_hash(account_id: str, account_key: bytes, epoch: int) -> bytes:
    """``id_hash`` of the account's leaf in ``epoch``."""
    return account_id_hash(account_id, leaf_salt(account_key, epoch))


def key_fingerprint(account_key: bytes) -> str:
    """A short public name of an account key (to compare with the one a participant pinned)."""
    return hashlib.sha256(b"zkclear/account-key-fingerprint/v1" + bytes(account_key)).hexdigest()[:16]
