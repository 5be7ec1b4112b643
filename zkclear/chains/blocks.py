"""The block a balance was read at: its height (or Solana slot) and hash, strictly formatted per chain.

- Bitcoin (both networks): the block hash as block explorers and ``bitcoin-cli getblockhash`` print it,
  64 lower-case hex digits (the double-SHA-256 of the header, byte-reversed), and at or below the
  network's proof-of-work limit ``0x00000000ffff0000...`` (so at least 8 leading zero digits): a string
  that could not be a block hash is refused.
- EVM: ``0x`` + 64 lower-case hex digits, as ``eth_getBlockByNumber`` returns it.
- Solana: the block's ``blockhash`` in Base58 (32 bytes), as ``getBlock`` returns it; the height field
  holds the **slot** (the ``context.slot`` of the balance query), which is what identifies a Solana block.

Heights are integers in [0, 2^63).
"""

from __future__ import annotations

from zkclear.chains.base58 import b58decode
from zkclear.chains.networks import Family, get_chain
from zkclear.errors import EncodingError, InputError

MAX_HEIGHT = (1 << 63) - 1
BITCOIN_POW_LIMIT = 0x00000000FFFF << 208
_LOWER_HEX = frozenset("0123456789abcdef")


def height_label(chain: str) -> str:
    """What the height field means on this chain: ``block height``, or ``slot`` on Solana."""
    return "slot" if get_chain(chain).family is Family.SOLANA else "block height"


def check_block_height(height: int) -> int:
    """The height unchanged; InputError unless an integer in [0, 2^63)."""
    if isinstance(height, bool) or not isinstance(height, int) or not 0 <= height <= MAX_HEIGHT:
        raise InputError(f"block height must be an integer in [0, 2^63), got {height!r}")
    return height


def check_block_hash(chain: str, text: str) -> str:
    """The block hash unchanged if it has the chain's canonical format; InputError naming the rule otherwise."""
    family = get_chain(chain).family
    if not isinstance(text, str):
        raise InputError("block hash must be text")
    if family is Family.BITCOIN:
        if len(text) != 64 or not set(text) <= _LOWER_HEX:
            raise InputError(f"block hash {text!r}: a {chain} block hash is 64 lower-case hex digits")
        if int(text, 16) > BITCOIN_POW_LIMIT:
            raise InputError(f"block hash {text}: above the {chain} proof-of-work limit, not a block hash")
    elif family is Family.EVM:
        if len(text) != 66 or not text.startswith("0x") or not set(text[2:]) <= _LOWER_HEX:
            raise InputError(f"block hash {text!r}: an EVM block hash is '0x' and 64 lower-case hex digits")
    else:
        try:
            raw = b58decode(text)
        except EncodingError as exc:
            raise InputError(f"block hash {text!r}: not Base58 ({exc})") from exc
        if len(raw) != 32:
            raise InputError(f"block hash {text!r}: {len(raw)} bytes, a Solana blockhash is 32")
    return text
