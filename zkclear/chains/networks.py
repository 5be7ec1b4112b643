"""The chains zkclear knows: their ids, families and address parameters.

A chain id is a lower-case name. Three families share their signing schemes and address rules:

- ``bitcoin`` family: ``bitcoin`` (mainnet: P2PKH version byte 0x00, bech32 hrp ``bc``) and
  ``bitcoin-testnet`` (testnet3/testnet4: version 0x6f, hrp ``tb``);
- ``evm`` family: ``ethereum`` and the EVM chains below by name, each with its EIP-155 chain id for
  reference (EIP-191 signatures do not include it, which is why the attestation text names the chain);
- ``solana`` family: ``solana`` (mainnet-beta).

Each chain also names its native coin and the decimals of the unit balances are reported in (satoshi: 8,
wei: 18, lamports: 9): a reserve of the native coin is converted with these and nothing else; a token's
decimals come from the venue's configuration (zkclear.proofs.reserves).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from zkclear.errors import InputError


class Family(Enum):
    """Chains that share address rules and a signed-message scheme."""

    BITCOIN = "bitcoin"
    EVM = "evm"
    SOLANA = "solana"


@dataclass(frozen=True, slots=True)
class Chain:
    """One chain: its id, family and the parameters its addresses need."""

    name: str
    family: Family
    p2pkh_version: int | None = None
    bech32_hrp: str | None = None
    evm_chain_id: int | None = None
    native_asset: str = ""
    native_decimals: int = 0
    #: a test network (its coins come free from a faucet): addresses, keys and signatures work as on the
    #: main network, but an entry on it never counts as reserves (zkclear.proofs.reserves refuses it)
    test_network: bool = False


CHAINS: dict[str, Chain] = {
    chain.name: chain
    for chain in (
        Chain("bitcoin", Family.BITCOIN, p2pkh_version=0x00, bech32_hrp="bc", native_asset="BTC", native_decimals=8),
        Chain("bitcoin-testnet", Family.BITCOIN, p2pkh_version=0x6F, bech32_hrp="tb", native_asset="BTC",
              native_decimals=8, test_network=True),
        Chain("ethereum", Family.EVM, evm_chain_id=1, native_asset="ETH", native_decimals=18),
        Chain("optimism", Family.EVM, evm_chain_id=10, native_asset="ETH", native_decimals=18),
        Chain("bsc", Family.EVM, evm_chain_id=56, native_asset="BNB", native_decimals=18),
        Chain("polygon", Family.EVM, evm_chain_id=137, native_asset="POL", native_decimals=18),
        Chain("base", Family.EVM, evm_chain_id=8453, native_asset="ETH", native_decimals=18),
        Chain("arbitrum", Family.EVM, evm_chain_id=42161, native_asset="ETH", native_decimals=18),
        Chain("avalanche", Family.EVM, evm_chain_id=43114, native_asset="AVAX", native_decimals=18),
        Chain("sepolia", Family.EVM, evm_chain_id=11155111, native_asset="ETH", native_decimals=18,
              test_network=True),
        Chain("solana", Family.SOLANA, native_asset="SOL", native_decimals=9),
    )
}


def get_chain(name: str) -> Chain:
    """The chain with this id; InputError naming the known ids otherwise."""
    chain = CHAINS.get(name) if isinstance(name, str) else None
    if chain is None:
        raise InputError(f"unknown chain {name!r:.40} (known: {', '.join(CHAINS)})")
    return chain
