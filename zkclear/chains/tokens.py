"""The tokens a reserve may be held in: well-known contracts pinned with their decimals, and the rule a listed
token must meet (docs/protocol.md, "Tokens held as reserves").

A reserve entry of a token names its contract (an ERC-20 contract on an EVM chain, an SPL mint on Solana; in
the chain's canonical address form) and the decimals of the unit its balance is counted in. Both are in the
reserves list the header binds and in the text the custodian signs, so "this balance of this token" is one
statement. What zkclear itself can check, with no access to a chain, is the list below: the contracts of the
stablecoins and wrapped coins a venue most often holds, with the decimals their contracts report. For them

- a registered contract is counted with its registered decimals and nothing else (declaring USDC on Ethereum
  with 0 decimals instead of 6 would multiply its reserves by 10^6 while every signed balance stays true);
- an asset named like a registered token on that chain (``USDC`` on ``ethereum``) is that contract and no other
  (a token of the operator's own minting under a well-known name).

A contract that *is* the chain's native coin under an ERC-20 address (:data:`NATIVE_COIN_CONTRACTS`: its
``balanceOf(a)`` answers ``a``'s native balance) holds the very coins the native coin does: it counts with the
chain's native decimals only, and as the native coin (:func:`coin_of`) wherever one coin may count for one asset
only — else an address's native coins would count twice, once as the native coin and again as that "token", with
every row true on the chain and every signature genuine (zkclear.proofs.reserves).

Any other token is accepted as declared and reported as *unregistered*: the auditor checks its contract and
decimals with the chain's own tools (``zkclear show`` prints them). A registered contract counted for an asset of
another name (USDC for the venue's ``USD``, or USDT for its ``BTC``) is accepted with its registered decimals and
reported too, with the name the registry knows it by: only the auditor can say the asset is worth that token.

Sources: each issuer's published contract addresses (Circle for USDC, Tether for USDT, MakerDAO for DAI,
BitGo for WBTC), cross-checked against public token lists; decimals as the contracts report them.
"""

from __future__ import annotations

from zkclear.chains.networks import get_chain

#: (chain, symbol) -> (contract in canonical form, decimals).
REGISTERED_TOKENS: dict[tuple[str, str], tuple[str, int]] = {
    ("ethereum", "USDC"): ("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    ("ethereum", "USDT"): ("0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
    ("ethereum", "DAI"): ("0x6B175474E89094C44Da98b954EedeAC495271d0F", 18),
    ("ethereum", "WBTC"): ("0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599", 8),
    ("optimism", "USDC"): ("0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85", 6),
    ("bsc", "USDC"): ("0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d", 18),
    ("bsc", "USDT"): ("0x55d398326f99059fF775485246999027B3197955", 18),
    ("polygon", "USDC"): ("0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359", 6),
    ("polygon", "USDT"): ("0xc2132D05D31c914a87C6611C10748AEb04B58e8F", 6),
    ("base", "USDC"): ("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", 6),
    ("arbitrum", "USDC"): ("0xaf88d065e77c8cC2239327C5EDb3A432268e5831", 6),
    ("arbitrum", "USDT"): ("0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9", 6),
    ("avalanche", "USDC"): ("0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E", 6),
    ("avalanche", "USDT"): ("0x9702230A8Ea53601f5cD2dc00fDBc13d4dF4A8c7", 6),
    ("solana", "USDC"): ("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6),
    ("solana", "USDT"): ("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6),
}

#: (chain, contract in canonical form) -> what it is: contracts whose ``balanceOf(a)`` is ``a``'s native balance.
#: Sources: the OP Stack's predeploys (LegacyERC20ETH: ``balanceOf(_who)`` returns ``address(_who).balance``) and
#: Polygon PoS's genesis contracts (MRC20 at 0x…1010: the ERC-20 face of the native coin).
NATIVE_COIN_CONTRACTS: dict[tuple[str, str], str] = {
    ("optimism", "0xDeadDeAddeAddEAddeadDEaDDEAdDeaDDeAD0000"): "the OP Stack's LegacyERC20ETH, i.e. native ETH",
    ("base", "0xDeadDeAddeAddEAddeadDEaDDEAdDeaDDeAD0000"): "the OP Stack's LegacyERC20ETH, i.e. native ETH",
    ("polygon", "0x0000000000000000000000000000000000001010"): "Polygon's MRC20 contract, i.e. native POL",
}

_BY_CONTRACT: dict[tuple[str, str], tuple[str, int]] = {
    (chain, contract): (symbol, decimals) for (chain, symbol), (contract, decimals) in REGISTERED_TOKENS.items()}


def registered_token(chain: str, asset: str) -> tuple[str, int] | None:
    """``(contract, decimals)`` of the token registered under ``asset`` on ``chain``, or None."""
    return REGISTERED_TOKENS.get((chain, asset))


def is_registered_contract(chain: str, contract: str) -> bool:
    """Whether ``contract`` (canonical form) is a registered token on ``chain``."""
    return (chain, contract) in _BY_CONTRACT


def registered_symbol(chain: str, contract: str) -> str | None:
    """The name ``contract`` (canonical form) is registered under on ``chain``, or None."""
    registered = _BY_CONTRACT.get((chain, contract))
    return None if registered is None else registered[0]


def registered_decimals(chain: str, contract: str) -> int | None:
    """The decimals of the registered token ``contract`` on ``chain``, or None."""
    registered = _BY_CONTRACT.get((chain, contract))
    return None if registered is None else registered[1]


def coin_of(chain: str, token: str) -> str:
    """The coin an entry's balance is of: ``""`` (the native coin) for a native coin's entry and for the native
    coin's own contract (:data:`NATIVE_COIN_CONTRACTS`), else the token's contract."""
    return "" if (chain, token) in NATIVE_COIN_CONTRACTS else token


def token_problem(chain: str, asset: str, contract: str, decimals: int) -> str | None:
    """What is wrong with counting ``asset`` on ``chain`` from the token ``contract`` in units of ``decimals``
    under the registry's rule (see the module docstring), or None."""
    native = NATIVE_COIN_CONTRACTS.get((chain, contract))
    if native is not None and decimals != get_chain(chain).native_decimals:
        return (f"the token {contract} on {chain} is {native}, counted in its unit "
                f"({get_chain(chain).native_decimals} decimals); the reserves list counts it with {decimals}")
    registered = _BY_CONTRACT.get((chain, contract))
    if registered is not None and registered[1] != decimals:
        return (f"the token {contract} on {chain} is {registered[0]}, whose contract has {registered[1]} decimals; "
                f"the reserves list counts it with {decimals}")
    named = REGISTERED_TOKENS.get((chain, asset))
    if named is not None and named[0] != contract:
        return (f"{asset} on {chain} is the token {named[0]} ({named[1]} decimals); the reserves list names the "
                f"contract {contract}")
    return None
