"""Red team (session 13) of the reserves across chains: a dishonest operator who wants the same coins to count twice
with every row true on its chain and every signature genuine.

Tests named ``test_attack_...`` pass because the code already refuses the attack; the others pinned a defect
before its fix (named in their docstring)."""

from __future__ import annotations

import pytest

from zkclear.chains import ReserveEntry, parse_address, parse_reserves_csv
from zkclear.chains.networks import get_chain
from zkclear.chains.tokens import NATIVE_COIN_CONTRACTS, coin_of, token_problem
from zkclear.errors import InputError, VerificationError
from zkclear.proofs.reserves import ReserveBook, VenueAsset, build_reserve_book, check_reserve_book
from zkclear.proving_settings import load_proving_settings

#: The OP Stack's LegacyERC20ETH predeploy (optimism, base) and Polygon PoS's MRC20 contract of its native coin.
LEGACY_ERC20_ETH = "0xDeadDeAddeAddEAddeadDEaDDEAdDeaDDeAD0000"
POLYGON_MRC20 = "0x0000000000000000000000000000000000001010"
CUSTODIAN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _row(chain: str, asset: str, balance: int) -> str:
    """A reserves.csv row of the custodian's EVM address (every row of a chain at one block)."""
    return f"{chain},{asset},{CUSTODIAN},{balance},1000,0x{'ab' * 32}"


@pytest.mark.parametrize(("chain", "contract", "native"), [
    ("optimism", LEGACY_ERC20_ETH, "ETH"),
    ("base", LEGACY_ERC20_ETH, "ETH"),
    ("polygon", POLYGON_MRC20, "POL"),
])
def test_the_native_coins_own_contract_counts_as_the_native_coin_in_its_unit(chain, contract, native):
    """Defect (fixed), part 1: these contracts answer ``balanceOf(a)`` with ``a``'s *native* balance (the OP Stack's
    LegacyERC20ETH returns ``address(_who).balance``; Polygon's MRC20 is the native POL's ERC-20 face), so they are
    the native coin: their unit is the chain's (18 decimals) — declared with 6, an address's wei counted x 10^12 as
    an unregistered token with decimals of the operator's choosing — and they are that coin for "one coin counts for
    one asset" (:func:`coin_of`)."""
    assert parse_address(chain, contract).text == contract  # pinned in canonical form, so the rule can match
    assert native in NATIVE_COIN_CONTRACTS[(chain, contract)]
    assert coin_of(chain, contract) == "" and coin_of("ethereum", contract) == contract
    problem = token_problem(chain, "WETH", contract, 6)
    assert problem is not None and contract in problem and "18 decimals" in problem
    assert token_problem(chain, "WETH", contract, 18) is None


def test_the_same_native_coins_counted_again_as_a_token_are_refused_by_line_and_by_the_verifier():
    """Defect (fixed), part 2, through the operator's tool and the verifier: ETH on optimism at one address, and the
    same address's LegacyERC20ETH balance declared as the venue's WETH. Both rows true on the chain at one block, both
    signed by the custodian, and the auditor's prescribed check of an unregistered token (the contract exists, with
    18 decimals) passes: the same ether counted for ETH and again for WETH. Now refused by name."""
    assets = (VenueAsset("USD", 6), VenueAsset("ETH", 18), VenueAsset("WETH", 18))
    text = "\n".join(("chain,asset,address,balance,block_height,block_hash",
                      _row("optimism", "ETH", 10**21), _row("optimism", "WETH", 10**21))) + "\n"
    entries = parse_reserves_csv(text, path="reserves.csv")
    with pytest.raises(InputError) as refused:
        build_reserve_book("Acme", assets, entries, tokens={("optimism", "WETH"): (LEGACY_ERC20_ETH, 18)},
                           path="reserves.csv")
    message = str(refused.value)
    assert message.startswith("reserves.csv:3: field 'asset': ") and LEGACY_ERC20_ETH in message
    assert "counted as ETH on line 2 and as WETH here" in message and "\n" not in message

    # A dishonest operator's own tool builds the book anyway: every verifier refuses it by address.
    native, token = entries
    token = ReserveEntry(token.chain, token.asset, token.address, token.balance, token.block_height,
                         token.block_hash, LEGACY_ERC20_ETH, 18)
    for listed in ((native, token), (token, native)):
        book = ReserveBook("Acme", assets, listed)
        assert book.asset_totals() == (0, 10**21, 10**21)  # what it would count: the same ether twice
        with pytest.raises(VerificationError) as caught:
            check_reserve_book(book, book.digest(), book.asset_totals(), ("ETH", "WETH"))
        assert caught.value.reason == "reserves-mismatch"
        assert CUSTODIAN in str(caught.value) and "counted as" in str(caught.value)


def test_the_native_coins_contract_alone_still_counts_once_for_a_differently_named_asset():
    """No regression for an honest venue whose asset has the coin's old name (``MATIC``, not the chain's ``POL``): it
    counts Polygon's native coin through MRC20, once, in the coin's unit."""
    assets = (VenueAsset("USD", 6), VenueAsset("MATIC", 18))
    text = "chain,asset,address,balance,block_height,block_hash\n" + _row("polygon", "MATIC", 5 * 10**18) + "\n"
    book = build_reserve_book("Acme", assets, parse_reserves_csv(text),
                              tokens={("polygon", "MATIC"): (POLYGON_MRC20, 18)})
    assert book.asset_totals() == (0, 5 * 10**18)
    check_reserve_book(book, book.digest(), book.asset_totals(), ("MATIC",))


def test_proving_toml_refuses_the_native_coins_contract_with_other_decimals(tmp_path):
    """Defect (fixed), where the operator declares it: ``[[reserves.token]]`` naming Polygon's MRC20 with 6
    decimals (its balance is in wei: every listed POL would count 10^12 times)."""
    path = tmp_path / "proving.toml"
    path.write_text(f'[reserves]\nvenue = "Acme"\n[[reserves.token]]\nchain = "polygon"\nasset = "MATIC"\n'
                    f'contract = "{POLYGON_MRC20}"\ndecimals = 6\n', encoding="utf-8")
    with pytest.raises(InputError) as refused:
        load_proving_settings(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:3: field 'reserves.token[0]': ") and POLYGON_MRC20 in message
    assert "native POL" in message and "\n" not in message


def test_a_native_coins_contract_is_that_only_on_its_own_chain():
    """The rule is per chain: 0x…1010 on Ethereum, or LegacyERC20ETH's address on Arbitrum, is an ordinary
    (unregistered) contract there, with any declared decimals."""
    assert token_problem("ethereum", "WETH", POLYGON_MRC20, 6) is None
    assert token_problem("arbitrum", "WETH", LEGACY_ERC20_ETH, 6) is None
    for chain, _ in NATIVE_COIN_CONTRACTS:
        assert get_chain(chain).native_asset  # every alias is on a chain with a native coin


# -- what held (kept as attack tests) ---------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", [CUSTODIAN.lower(), CUSTODIAN])
def test_attack_one_evm_address_in_two_spellings_counts_once(spelling):
    """Lower case and EIP-55 are one address: the second row is refused as listed twice (an all-capital spelling is
    not an address at all)."""
    text = "\n".join(("chain,asset,address,balance,block_height,block_hash", _row("ethereum", "ETH", 1),
                      _row("ethereum", "ETH", 1).replace(CUSTODIAN, spelling))) + "\n"
    with pytest.raises(InputError, match=r"reserves\.csv:3: field 'address': .* listed twice"):
        parse_reserves_csv(text, path="reserves.csv")
    capitals = "0x" + CUSTODIAN[2:].upper()
    with pytest.raises(InputError, match="field 'address'"):
        parse_reserves_csv(text.replace(spelling, capitals), path="reserves.csv")


def test_attack_one_keys_p2pkh_signature_offered_for_its_p2wpkh_entry_names_the_other_address():
    """One Bitcoin key, its compressed P2PKH and its P2WPKH address both listed (two addresses, two sets of coins):
    the Electrum-style header (type 1, compressed key) is valid for either address kind, so the P2PKH entry's
    signature offered as the P2WPKH entry's does verify under the P2WPKH address (same key hash) — and is refused
    because the text it signs names the P2PKH address: both coins count only with two signatures."""
    import dataclasses

    from tests.chains.chain_fixtures import CONTEXT, entry_for, key
    from zkclear.chains import AddressKind, attest_reserves, bitcoin_message, verify_attestations
    from zkclear.chains.addresses import bitcoin_address
    from zkclear.chains.reasons import Reason
    from zkclear.chains.secp256k1 import encode_point, public_key

    segwit = key("bitcoin")
    compressed = encode_point(public_key(segwit.secret), compressed=True)
    legacy = key("bitcoin", address=bitcoin_address("bitcoin", AddressKind.P2PKH, compressed).text)
    entries = [entry_for(segwit), entry_for(legacy, balance=2)]
    attestations = list(attest_reserves(segwit, CONTEXT, entries))
    assert len(attestations) == 2  # one key signs both of its listed addresses
    verify_attestations(entries, attestations, CONTEXT)
    p2pkh = next(a for a in attestations if a.address == legacy.address.text)
    assert bitcoin_message.decode_base64_strict(p2pkh.signature, "")[0] in range(31, 35)  # compressed-key header
    replayed = [dataclasses.replace(p2pkh, address=segwit.address.text), p2pkh]
    with pytest.raises(VerificationError) as caught:
        verify_attestations(entries, replayed, CONTEXT)
    assert caught.value.reason == Reason.WRONG_ADDRESS and segwit.address.text in str(caught.value)


def test_attack_every_bip137_header_byte_against_every_bitcoin_address_kind():
    """All 16 header bytes (27-42: four key/script types x four recovery ids) for one signature, offered for the
    key's uncompressed P2PKH, compressed P2PKH and P2WPKH addresses: exactly the documented pairs verify
    (type 0 for uncompressed P2PKH, 1 for compressed P2PKH, 1 or 3 for P2WPKH, each with the signature's own
    recovery id); a type the address cannot have is malformed, another recovery id or key form another signer."""
    import base64

    from zkclear.chains import AddressKind, Reason, verify_message
    from zkclear.chains.addresses import bitcoin_address
    from zkclear.chains.bitcoin_message import bip137_digest
    from zkclear.chains.secp256k1 import encode_point, public_key, sign

    secret = bytes([0x42]) * 32
    point = public_key(secret)
    addresses = {
        "p2pkh-uncompressed": (bitcoin_address("bitcoin", AddressKind.P2PKH, encode_point(point, compressed=False)),
                               {0}),
        "p2pkh-compressed": (bitcoin_address("bitcoin", AddressKind.P2PKH, encode_point(point)), {1}),
        "p2wpkh": (bitcoin_address("bitcoin", AddressKind.P2WPKH, encode_point(point)), {1, 3}),
    }
    message = b"zkclear red team s13"
    r, s, recovery_id = sign(secret, bip137_digest(message))
    for name, (address, accepted_types) in addresses.items():
        allowed = {AddressKind.P2PKH: {0, 1}, AddressKind.P2WPKH: {1, 3}}[address.kind]
        for header in range(27, 43):
            signature_type, recovery = divmod(header - 27, 4)
            text = base64.b64encode(bytes([header]) + r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
            try:
                verify_message(address, message, text)
                outcome = "ok"
            except VerificationError as exc:
                outcome = exc.reason
            if signature_type in accepted_types and recovery == recovery_id:
                assert outcome == "ok", (name, header)
            elif signature_type not in allowed:
                assert outcome == Reason.SIGNATURE_MALFORMED, (name, header, outcome)
            else:  # another recovery id recovers another key (or none), another key form hashes differently
                assert outcome in (Reason.WRONG_SIGNER, Reason.SIGNATURE_MALFORMED), (name, header, outcome)
                assert outcome != "ok"


def test_consecutive_epochs_never_read_a_chain_at_an_older_block_or_another_block_of_the_same_height():
    """Defect (fixed), verifier side (the CLI test pins the operator's refusal and `audit` / `verify`): epoch 2's
    reserves at a block before epoch 1's of that chain, or at epoch 1's height under another hash, are
    `reserves-mismatch`; the same block again, or a later one, passes."""
    from zkclear.proofs.reserves import check_blocks_advance, last_blocks, older_block

    assets = (VenueAsset("USD", 6), VenueAsset("ETH", 18))

    def book(height: int, block_hash: str = "0x" + "ab" * 32) -> ReserveBook:
        entry = ReserveEntry("ethereum", "ETH", CUSTODIAN, 10**18, height, block_hash)
        return ReserveBook("Acme", assets, (entry,))

    first = last_blocks({}, book(1000), 1)
    for later in (book(1000), book(1001, "0x" + "cd" * 32)):
        assert older_block(first, later) is None
        check_blocks_advance(first, later, 2)
    for stale, what in ((book(999), "older than the previous epoch's"),
                        (book(1000, "0x" + "cd" * 32), "one of the two is not on the chain")):
        assert older_block(first, stale) is not None
        with pytest.raises(VerificationError) as caught:
            check_blocks_advance(first, stale, 2)
        message = str(caught.value)
        assert caught.value.reason == "reserves-mismatch" and CUSTODIAN in message and what in message
    other_chain = ReserveBook("Acme", assets, (ReserveEntry("arbitrum", "ETH", CUSTODIAN, 1, 5, "0x" + "ab" * 32),))
    check_blocks_advance(first, other_chain, 2)  # blocks of different chains are not compared
