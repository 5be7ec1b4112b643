"""Demo/test keys: key files (0600, strict), what a key controls, the signing-time refusals by address,
and ``zkclear keys`` end to end with each signature checked by that chain's ordinary tools."""

from __future__ import annotations

import base64
import json
import os
import stat

import coincurve
import nacl.signing
import pytest
from bitcoin.signmessage import BitcoinMessage, VerifyMessage
from embit import ec as embit_ec
from embit import script as embit_script
from embit.networks import NETWORKS
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.chains.chain_fixtures import BLOCKS, CONTEXT, entry_for, key
from tests.cli.test_cli_end_to_end import zkclear
from zkclear.chains import secp256k1
from zkclear.chains.addresses import AddressKind, bitcoin_address, parse_address
from zkclear.chains.attestation_text import render_attestation_text
from zkclear.chains.base58 import b58decode
from zkclear.chains.bitcoin_message import bip137_digest
from zkclear.chains.keys import (
    attest_reserves,
    controls,
    decode_key,
    encode_key,
    generate_key,
    key_from_secret,
    load_key,
    sign_attestation_text,
    write_key,
)
from zkclear.chains.reserves import ReserveEntry
from zkclear.chains.verification import Attestation, verify_attestation
from zkclear.errors import InputError


def test_key_file_is_created_with_mode_0600_and_round_trips(tmp_path):
    for chain in ("bitcoin", "bitcoin-testnet", "ethereum", "solana"):
        demo_key = generate_key(chain)
        path = tmp_path / f"{chain}.key"
        write_key(path, demo_key)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_key(path) == demo_key
        record = json.loads(path.read_text())
        assert record == {"format": "zkclear-test-key/v1", "chain": chain, "address": demo_key.address.text,
                          "secret": demo_key.secret.hex()}
        assert demo_key.secret.hex() not in repr(demo_key)


def test_key_file_is_never_overwritten(tmp_path):
    path = tmp_path / "custody.key"
    write_key(path, generate_key("ethereum"))
    before = path.read_bytes()
    with pytest.raises(InputError, match="refusing to overwrite"):
        write_key(path, generate_key("ethereum"))
    assert path.read_bytes() == before


def test_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "custody.key"
    write_key(path, generate_key("solana"))
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match="too open: chmod 600"):
        load_key(path)


def test_bitcoin_p2pkh_key_type(tmp_path):
    demo_key = generate_key("bitcoin", kind=AddressKind.P2PKH)
    assert demo_key.address.kind is AddressKind.P2PKH and demo_key.address.text.startswith("1")
    with pytest.raises(InputError, match="--type applies to bitcoin"):
        generate_key("ethereum", kind=AddressKind.P2PKH)


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: {**r, "address": key("ethereum", "other").address.text}, "secret"),
    (lambda r: {**r, "secret": r["secret"].upper()}, "secret"),
    (lambda r: {**r, "format": "zkclear-test-key/v2"}, "format"),
    (lambda r: {**r, "extra": 1}, None),
    (lambda r: {**r, "chain": "dogecoin"}, "chain"),
    (lambda r: {**r, "address": r["address"].lower()[:-1] + "x"}, "address"),
    (lambda r: {**r, "address": r["address"].lower()}, "address"),
])
def test_tampered_key_files_are_refused(change, field):
    record = json.loads(encode_key(key("ethereum")))
    with pytest.raises(InputError) as caught:
        decode_key(json.dumps(change(record)), path="custody.key")
    assert str(caught.value).startswith("custody.key:1: ")
    assert field is None or f"field '{field}'" in str(caught.value)
    duplicated = encode_key(key("ethereum")).replace('"chain": "ethereum"', '"chain": "ethereum", "chain": "base"')
    with pytest.raises(InputError, match="invalid JSON"):
        decode_key(duplicated)


def test_what_a_key_controls():
    bitcoin = key("bitcoin")
    public = secp256k1.public_key(bitcoin.secret)
    for kind, compressed in ((AddressKind.P2WPKH, True), (AddressKind.P2PKH, True), (AddressKind.P2PKH, False)):
        own = bitcoin_address("bitcoin", kind, secp256k1.encode_point(public, compressed=compressed))
        assert controls(bitcoin, own)
        assert key_from_secret("bitcoin", bitcoin.secret, own.text).address == own
    assert not controls(bitcoin, key("bitcoin-testnet").address)  # same secret, other network
    evm = key("ethereum")
    assert controls(evm, parse_address("arbitrum", evm.address.text))  # same account on every EVM chain
    assert not controls(evm, key("ethereum", "other").address)
    assert not controls(key("solana"), evm.address)
    with pytest.raises(InputError, match="does not control"):
        key_from_secret("ethereum", evm.secret, key("ethereum", "other").address.text)


def test_attack_key_that_controls_no_listed_address_is_refused_at_signing():
    entries = [entry_for(key("bitcoin")), entry_for(key("ethereum"))]
    outsider = key("bitcoin", "outsider")
    with pytest.raises(InputError) as caught:
        attest_reserves(outsider, CONTEXT, entries)
    assert f"key for {outsider.address.text} (bitcoin) controls no listed reserve address" in str(caught.value)


def test_attack_duplicate_signature_is_refused_at_signing():
    demo_key = key("ethereum")
    entries = [entry_for(demo_key), entry_for(key("solana"))]
    first = attest_reserves(demo_key, CONTEXT, entries)
    assert [a.address for a in first] == [demo_key.address.text]
    with pytest.raises(InputError) as caught:
        attest_reserves(demo_key, CONTEXT, entries, first)
    assert f"address {demo_key.address.text} on ethereum is already attested" in str(caught.value)


def test_one_evm_key_attests_its_address_on_each_listed_evm_chain():
    demo_key = key("ethereum")
    entries = [entry_for(demo_key), entry_for(demo_key, chain="arbitrum")]
    attestations = attest_reserves(demo_key, CONTEXT, entries)
    for entry, attestation in zip(entries, attestations, strict=True):
        verify_attestation(entry, attestation, CONTEXT)


def test_sign_text_refuses_an_address_the_key_does_not_control():
    other = entry_for(key("solana", "other"))
    with pytest.raises(InputError, match=f"does not control address {other.address}"):
        sign_attestation_text(key("solana"), render_attestation_text(CONTEXT, other))


# -- zkclear keys, end to end ------------------------------------------------------------------------

def _new_key(tmp_path, capsys, chain: str, *extra: str):
    path = tmp_path / f"{chain}{'-'.join(extra)}.key"
    output = zkclear("keys", "new", "--chain", chain, "--out", path, *extra, capsys=capsys)
    address = output.split()[0]
    assert zkclear("keys", "address", path, capsys=capsys).strip() == f"{address} ({chain})"
    return path, address


def _sign(tmp_path, capsys, key_path, chain: str, address: str, *extra: str) -> tuple[ReserveEntry, str, str]:
    entry = ReserveEntry(chain, {"bitcoin": "BTC", "ethereum": "ETH", "solana": "SOL"}[chain], address,
                         150_000_000, *BLOCKS[chain])
    text = render_attestation_text(CONTEXT, entry)
    text_path = tmp_path / f"{address}.txt"
    text_path.write_text(text + "\n", encoding="ascii")  # as an editor saves it
    signature = zkclear("keys", "sign", key_path, "--text-file", text_path, *extra, capsys=capsys).strip()
    verify_attestation(entry, Attestation(chain, address, text, signature), CONTEXT)
    return entry, text, signature


def test_cli_keys_ethereum_signature_checks_with_eth_account(tmp_path, capsys):
    key_path, address = _new_key(tmp_path, capsys, "ethereum")
    _, text, signature = _sign(tmp_path, capsys, key_path, "ethereum", address)
    assert Account.recover_message(encode_defunct(text=text), signature=signature) == address


def test_cli_keys_bitcoin_p2pkh_signature_checks_with_python_bitcoinlib(tmp_path, capsys):
    key_path, address = _new_key(tmp_path, capsys, "bitcoin", "--type", "p2pkh")
    _, text, signature = _sign(tmp_path, capsys, key_path, "bitcoin", address)
    assert VerifyMessage(address, BitcoinMessage(text), signature)


@pytest.mark.parametrize("extra", [(), ("--bip322",)])
def test_cli_keys_bitcoin_p2wpkh_signature_checks_with_libsecp256k1_and_embit(tmp_path, capsys, extra):
    key_path, address = _new_key(tmp_path, capsys, "bitcoin")
    _, text, signature = _sign(tmp_path, capsys, key_path, "bitcoin", address, *extra)
    raw = base64.b64decode(signature)
    if extra:  # BIP-322 witness: the key is its second item; embit derives the address from it
        public = raw[-33:]
    else:  # BIP-137: recover the key with libsecp256k1
        assert 39 <= raw[0] <= 42
        recoverable = raw[1:] + bytes([(raw[0] - 27) % 4])
        public = coincurve.PublicKey.from_signature_and_message(recoverable, bip137_digest(text.encode()),
                                                               hasher=None).format()
    assert embit_script.p2wpkh(embit_ec.PublicKey.parse(public)).address(NETWORKS["main"]) == address


def test_cli_keys_solana_signature_checks_with_pynacl(tmp_path, capsys):
    key_path, address = _new_key(tmp_path, capsys, "solana")
    _, text, signature = _sign(tmp_path, capsys, key_path, "solana", address)
    nacl.signing.VerifyKey(b58decode(address)).verify(text.encode(), b58decode(signature))


def test_cli_keys_refusals_are_one_line_exit_1(tmp_path, capsys):
    key_path, _ = _new_key(tmp_path, capsys, "ethereum")
    other = entry_for(key("ethereum", "someone else"))
    text_path = tmp_path / "other.txt"
    text_path.write_text(render_attestation_text(CONTEXT, other), encoding="ascii")
    output = zkclear("keys", "sign", key_path, "--text-file", text_path, expect=1, capsys=capsys)
    assert output.count("\n") == 1 and f"does not control address {other.address}" in output
    text_path.write_text("not an attestation", encoding="ascii")
    output = zkclear("keys", "sign", key_path, "--text-file", text_path, expect=1, capsys=capsys)
    assert output.startswith(f"error: {text_path}: not a zkclear attestation text")
    output = zkclear("keys", "new", "--chain", "dogecoin", "--out", tmp_path / "d.key", expect=1, capsys=capsys)
    assert "unknown chain 'dogecoin'" in output and not (tmp_path / "d.key").exists()
    output = zkclear("keys", "new", "--chain", "ethereum", "--out", key_path, expect=1, capsys=capsys)
    assert "refusing to overwrite" in output


def test_a_key_file_nested_too_deeply_is_refused_not_a_signal(tmp_path):
    # with py_ecc imported the recursion limit is 100,000: json.loads would overflow the C stack first
    import py_ecc  # noqa: F401

    path = tmp_path / "custody.key"
    path.write_text("[" * 300_000 + "]" * 300_000)
    path.chmod(0o600)
    with pytest.raises(InputError) as caught:
        load_key(path)
    assert str(caught.value) == f"{path}:1: not a zkclear test key file (JSON nested too deeply)"
