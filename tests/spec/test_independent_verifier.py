"""The independent verifier (tests/spec/independent_verifier.py, written from docs/protocol.md and docs/format.md
alone) accepts every receipt `zkclear epoch prove` writes and refuses tampered ones: the two documents and the code
stay in step.

The epochs are proven through the real CLI in a subprocess on the native engine when it is installed (the quick
start's `ZKCLEAR_BACKEND=auto`): a multi-asset market (USDC-settled, BTC and ETH collateral, premium-style options,
portfolio-margin accounts) of one epoch and a single-asset one of two epochs, height 8, chunks of 4."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.spec import independent_verifier as iv
from zkclear.chains import key_from_secret, write_key
from zkclear.demo import custodians, demo_reserves_csv
from zkclear.operator import Deployment
from zkclear.synthetic import MarketSpec, generate_market, reserves_csv

REPOSITORY = Path(__file__).resolve().parents[2]
SINGLE_KEY = key_from_secret("ethereum", bytes.fromhex("d4" * 32))


def _deployment(root: Path, *, collateral: bool, epochs: int) -> dict[int, str]:
    """A deployment proven through the CLI's entry point in ``root/deployment``; the header hash each `epoch prove`
    printed, per epoch. Run in a child process (:func:`_build`), so that the group engine is the quick start's."""
    from tests.cli.cli_helpers import zkclear

    # 8 accounts with collateral (two full chunks of 4), 9 without (three chunks, one slot of padding accounts, padded
    # to four chunks)
    spec = MarketSpec(accounts=3 if collateral else 4, epochs=epochs, fills_per_epoch=20, seed=7,
                      collateral=collateral)
    config, epoch_dirs = generate_market(root / "market", spec)
    if collateral:
        keys, holders = custodians()
    else:
        keys, holders = [SINGLE_KEY], [("ethereum", "USDC", SINGLE_KEY.address.text)]
    key_files = []
    for number, key in enumerate(keys):
        write_key(root / f"custodian-{number}.key", key)
        key_files += ["--sign-with", root / f"custodian-{number}.key"]
    deployment = root / "deployment"
    zkclear("init", deployment, "--config", config, "--height", 8, "--chunk-bits", 2, "--executor", "serial",
            "--venue", "Spec Test Venue")
    hashes = {}
    for number, epoch_dir in enumerate(epoch_dirs, start=1):
        zkclear("epoch", "run", epoch_dir, "-d", deployment)
        reserves = root / f"reserves-{number}.csv"
        if collateral:
            reserves.write_text(demo_reserves_csv(Deployment(deployment), number, holders))
        else:
            reserves.write_text(reserves_csv(holders, {"USDC": 10**16}))
        output = zkclear("epoch", "prove", "-d", deployment, "--reserves", reserves, *key_files)
        hashes[number] = re.search(r"header hash ([0-9a-f]{64})", output).group(1)
    return hashes


def _build(root: str) -> None:
    """Both deployments, and ``hashes.json`` (their header hashes)."""
    hashes = {"multi": _deployment(Path(root) / "multi", collateral=True, epochs=1),
              "single": _deployment(Path(root) / "single", collateral=False, epochs=2)}
    (Path(root) / "hashes.json").write_text(json.dumps(hashes))


@pytest.fixture(scope="module")
def venues(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("spec")
    env = dict(os.environ, ZKCLEAR_BACKEND="auto", PYTHONPATH=str(REPOSITORY))
    code = f"from tests.spec.test_independent_verifier import _build; _build({str(root)!r})"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPOSITORY, env=env,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    hashes = json.loads((root / "hashes.json").read_text())
    return {name: {"dir": root / name / "deployment",
                   "hashes": {int(epoch): bytes.fromhex(value) for epoch, value in hashes[name].items()}}
            for name in ("multi", "single")}


@pytest.fixture(scope="module")
def multi(venues) -> dict:
    return venues["multi"]


@pytest.fixture(scope="module")
def single(venues) -> dict:
    return venues["single"]


def _published(venue: dict, epoch: int) -> dict[str, bytes]:
    folder = venue["dir"] / "epochs" / str(epoch)
    return {kind: (folder / f"epoch-{epoch}.{kind}").read_bytes() for kind in ("bundle", "public.json", "inputs.json")}


def _receipts(venue: dict, epoch: int) -> dict[str, bytes]:
    private = venue["dir"] / "private" / str(epoch)
    index = json.loads((private / "receipts.index").read_text())
    return {account: (private / "receipts" / name).read_bytes() for account, name in index.items()}


def _verify(files: dict[str, bytes], receipt: bytes, account: str, **options) -> dict:
    return iv.verify(files["bundle"], receipt, account, files["public.json"], inputs_bytes=files["inputs.json"],
                     **options)


def _rewrap(container: bytes, body: bytes) -> bytes:
    """The container around a new body: length and checksum recomputed (a forger's file, not a damaged one)."""
    head = container[:14] + len(body).to_bytes(8, "big")
    return head + body + hashlib.sha256(head + body).digest()


def _replace_once(container: bytes, old: bytes, new: bytes) -> bytes:
    body = container[22:-32]
    assert body.count(old) == 1
    return _rewrap(container, body.replace(old, new))


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def _reason(files: dict[str, bytes], receipt: bytes, account: str, **options) -> str:
    with pytest.raises(iv.CheckFailed) as caught:
        _verify(files, receipt, account, **options)
    return caught.value.reason


def test_every_receipt_of_a_multi_asset_epoch_verifies_against_the_posted_header_hash(multi):
    files = _published(multi, 1)
    header = iv.decode_bundle(files["bundle"], "bundle").header
    assert header.asset_count == 3 and header.chunk_bits == 2 and header.height == 8
    modes, balances = set(), 0
    for account, receipt in _receipts(multi, 1).items():
        summary = _verify(files, receipt, account, expect_header=multi["hashes"][1])
        assert summary["header_hash"] == multi["hashes"][1].hex()
        modes.add(iv.decode_receipt(receipt, "receipt", header).chunk.accounts[summary["leaf_index"] % 4].mode)
        balances += any(summary["opening"][6:8])  # cash, 5 positions, then the BTC and ETH balances
    assert modes == {0, 1}  # standard and portfolio accounts: both witness orders are exercised
    assert balances  # a collateral balance is a leaf liability


def test_every_receipt_of_a_single_asset_venue_verifies_with_its_equity_leaf(single):
    for epoch in (1, 2):
        files = _published(single, epoch)
        assert iv.decode_bundle(files["bundle"], "bundle").header.asset_count == 1
        public = json.loads(files["public.json"])
        assert any(instrument[1] for instrument in public[4])  # an option valued per lot: C_cash + Σ v_j·C_q_j
        receipts = sorted(_receipts(single, epoch).items())
        for account, receipt in receipts[::3]:  # a few, to keep the test fast
            _verify(files, receipt, account, expect_header=single["hashes"][epoch])


def test_tampered_receipts_and_mismatched_epochs_are_refused(multi):
    files, receipts = _published(multi, 1), _receipts(multi, 1)
    header = iv.decode_bundle(files["bundle"], "bundle").header
    (account, receipt), (other, other_receipt) = sorted(receipts.items())[3:5]
    decoded = iv.decode_receipt(receipt, "receipt", header)

    # a sibling's digest with one byte flipped (the container's checksum recomputed)
    sibling = decoded.siblings[2]
    forged = _replace_once(receipt, sibling.digest, _flip_last_byte(sibling.digest))
    assert _reason(files, forged, account) == "path-root-mismatch"
    # a sibling's liability commitment with one byte flipped: not a point of G1, or a different one
    encoded = iv.encode_point(sibling.liabilities[0])
    with pytest.raises((iv.BadInput, iv.CheckFailed)):
        _verify(files, _replace_once(receipt, encoded, _flip_last_byte(encoded)), account)
    # two siblings swapped
    first, second = (b"".join(map(iv.encode_point, node.liabilities)) + node.digest for node in decoded.siblings[:2])
    swapped = _replace_once(_replace_once(receipt, first, b"\x00" * len(first)), second, first)
    assert _reason(files, _replace_once(swapped, b"\x00" * len(first), second), account) == "path-root-mismatch"

    # another account's receipt: refused by name, and renamed, by the id hash at the leaf
    assert _reason(files, other_receipt, account) == "receipt-owner"
    old_name, new_name = (len(n).to_bytes(2, "big") + n.encode() for n in (other, account))
    renamed = _replace_once(other_receipt, old_name, new_name)
    assert _reason(files, renamed, account) == "leaf-mismatch"
    # a pinned account key that is not the receipt's
    assert _reason(files, receipt, account, account_key=bytes(32)) == "account-key-mismatch"

    # the opening: one value changed
    opening = decoded.opening_bytes
    assert _reason(files, _replace_once(receipt, opening, opening[:39] + bytes([opening[39] ^ 1]) + opening[40:]),
                   account) == "opening-mismatch"
    # the chunk's position-vector proof: z_{n-1} changed
    blob = decoded.chunk.positions_blob
    assert _reason(files, _replace_once(receipt, blob, _flip_last_byte(blob)), account) == "chunk-position-vector"

    # the bundle's matched-book blinding β changed
    beta = iv.scalar_bytes(iv.decode_bundle(files["bundle"], "bundle").beta)
    bad_beta = {**files, "bundle": _replace_once(files["bundle"], beta, iv.scalar_bytes(int.from_bytes(beta, "big")
                                                                                         + 1))}
    assert _reason(bad_beta, receipt, account) == "matched-book"
    # one attestation's text naming another venue, and another's another balance (same lengths)
    bundle = files["bundle"]
    start = bundle.index(b"zkclear reserve attestation v2")
    venue_at = bundle.index(b"venue: Spec Test Venue", start) + len(b"venue: Spec Test Venu")
    balance_at = bundle.index(b"\nbalance: ", start) + len(b"\nbalance: ")
    for at, reason in ((venue_at, "attestation-wrong-venue"), (balance_at, "attestation-balance-mismatch")):
        changed = b"8" if bundle[at:at + 1] == b"9" else bytes([bundle[at] + 1])
        forged = bundle[:at] + changed + bundle[at + 1:]
        assert _reason({**files, "bundle": _rewrap(forged, forged[22:-32])}, receipt, account) == reason


def test_a_receipt_checked_against_another_epochs_files_or_header_hash_is_refused(single):
    files, later = _published(single, 1), _published(single, 2)
    account, receipt = sorted(_receipts(single, 1).items())[-1]
    _verify(files, receipt, account, expect_header=single["hashes"][1])
    assert _reason(later, receipt, account) == "receipt-epoch-mismatch"
    assert _reason(files, receipt, account, expect_header=single["hashes"][2]) == "header-mismatch"
    assert _reason({**files, "public.json": later["public.json"]}, receipt, account) == "public-data-mismatch"
    assert _reason({**files, "inputs.json": later["inputs.json"]}, receipt, account) == "public-data-mismatch"
    # epoch 2's receipt of the same account against epoch 1's files
    assert _reason(files, _receipts(single, 2)[account], account) == "receipt-epoch-mismatch"


def test_the_script_exits_0_2_and_1(multi, tmp_path, capsys):
    folder = multi["dir"] / "epochs" / "1"
    account, receipt = sorted(_receipts(multi, 1).items())[0]
    path = tmp_path / "r.rcpt"
    path.write_bytes(receipt)
    common = ["--bundle", str(folder / "epoch-1.bundle"), "--receipt", str(path), "--public",
              str(folder / "epoch-1.public.json")]
    assert iv.main([*common, "--account", account]) == 0
    assert iv.main([*common, "--account", account + "x"]) == 2
    path.write_bytes(receipt[:-1] + bytes([receipt[-1] ^ 1]))  # the checksum broken
    assert iv.main([*common, "--account", account]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("OK epoch 1") and "FAILED receipt-owner" in err and "checksum mismatch" in err
    assert "Traceback" not in err


def test_the_documented_witness_order_is_the_statements_on_varied_public_data():
    """docs/protocol.md "Commitment order", as the independent verifier reads it, against the statements the prover
    and the code's verifier build: tier tables, a line negative at 0, a dropped zero line, D > 1, S = 1 and S > 1,
    an instrument without lines or charges, and with and without collateral assets."""
    from circuits.account_statement import account_statement
    from circuits.public_data import MarginLine, PublicAsset, PublicInstrument, PublicRiskData, ScenarioMargin

    instruments = (
        PublicInstrument("PERP", 0, (MarginLine(30, 30, 0, 1),)),                                  # long only
        PublicInstrument("TIER", 0, (MarginLine(10, 10, 0, 1), MarginLine(20, 20, 500, 1)), 0, 0),   # long, m_j
        PublicInstrument("NEG", 0, (MarginLine(7, 9, 3, 2),)),                                      # C > 0: m_j
        PublicInstrument("ZERO", 0, (MarginLine(0, 0, 5, 1),)),                                     # dropped
        PublicInstrument("OPT", 12, (MarginLine(4, 6, 0, 5),), 2, 3),                               # D = 5
        PublicInstrument("BARE", 0),                                                                # no line
    )
    assets = (PublicAsset("BTC", 1, 100, 60_000, ((95, 0), (90, 1_000)), 100),
              PublicAsset("ETH", 1, 1_000, 3_000, ((80, 0),), 100))
    for scale in (1, 100):
        table = ScenarioMargin(scale, ((0, 1), (2,)), tuple((k, -k, k) for k in range(len(instruments))))
        for with_assets in (False, True):
            public = PublicRiskData(instruments, table, assets=assets if with_assets else ())
            document = json.loads(json.dumps(public.canonical()))
            for code, mode in ((0, "standard"), (1, "portfolio")):
                expected = [variable.name for variable in account_statement(public, mode).witnesses]
                assert iv.witness_names(document, code) == expected, (mode, scale, with_assets)


def test_point_decoding_as_documented_agrees_with_the_code_on_every_rejection_rule():
    """docs/protocol.md "Point encoding": the independent decoder and zkclear's refuse the same encodings, among
    them the documented rejection vectors (x = 4, on E but not in G1; (0, 2), of order 3)."""
    from zkclear.crypto.group import G1Point
    from zkclear.errors import EncodingError

    def affine_encoding(x: int, y: int) -> bytes:
        body = bytearray(x.to_bytes(48, "big"))
        body[0] |= 0x80 | (0x20 if y > (iv.P - 1) // 2 else 0)
        return bytes(body)

    def curve_y(x: int) -> int:
        return pow((x ** 3 + 4) % iv.P, (iv.P + 1) // 4, iv.P)

    g = iv.encode_point(iv.G1)
    off_curve = next(x for x in range(1, 100) if curve_y(x) ** 2 % iv.P != (x ** 3 + 4) % iv.P)
    cases = {
        "G": g, "-G": bytes([g[0] ^ 0x20]) + g[1:], "H": iv.H_KNOWN_ANSWER, "infinity": b"\xc0" + bytes(47),
        "infinity with sign": b"\xe0" + bytes(47), "infinity with a bit of x": b"\xc0" + bytes(46) + b"\x01",
        "uncompressed flag unset": bytes([g[0] & 0x7F]) + g[1:], "short": g[:47], "long": g + b"\x00",
        "x = p": affine_encoding(iv.P, 0), "x = p + 4": affine_encoding(iv.P + 4, 0),
        "x off the curve": affine_encoding(off_curve, 0),
        "x = 4: on E, not in G1": affine_encoding(4, curve_y(4)), "(0, 2): order 3": affine_encoding(0, 2),
    }
    for name, data in cases.items():
        try:
            G1Point.from_bytes(data)
            code_accepts = True
        except (EncodingError, ValueError):
            code_accepts = False
        try:
            point = iv.decode_point(data, name)
            spec_accepts = True
        except iv.BadInput:
            spec_accepts = False
        assert spec_accepts == code_accepts, name
        if spec_accepts:
            assert iv.encode_point(point) == data, name  # one encoding per point
    assert iv.encode_point(iv.pedersen_h()) == iv.H_KNOWN_ANSWER


def _groups_tail(receipt: iv.Receipt, asset_count: int) -> bytes:
    """The receipt body's last field, the groups, encoded as docs/format.md "Receipt body" says."""
    out = len(receipt.groups).to_bytes(2, "big")
    for group in receipt.groups:
        out += len(group.others).to_bytes(2, "big")
        for (level, index), liabilities in group.others:
            assert len(liabilities) == asset_count
            out += bytes([level]) + index.to_bytes(8, "big") + b"".join(map(iv.encode_point, liabilities))
        out += len(group.proof).to_bytes(4, "big") + group.proof
    return out


def test_a_group_member_on_the_path_or_outside_its_group_is_refused(multi):
    files = _published(multi, 1)
    header = iv.decode_bundle(files["bundle"], "bundle").header
    account, receipt = sorted(_receipts(multi, 1).items())[2]
    decoded = iv.decode_receipt(receipt, "receipt", header)
    tail = _groups_tail(decoded, header.asset_count)
    body = receipt[22:-32]
    assert body.endswith(tail)  # the layout as documented, byte for byte
    (lo, hi), group = iv.bands(header)[0], decoded.groups[0]
    some = decoded.siblings[0].liabilities
    leaf = decoded.leaf_index
    for position in ((lo, (leaf >> lo) ^ 1), (lo + 1, leaf >> (lo + 1)), (hi, leaf >> hi),
                     (lo, ((leaf >> hi) ^ 1) << (hi - lo))):  # a sibling, a path node, the anchor, another group
        extra = ((position, some),)
        forged_groups = (iv.Group(tuple(sorted(group.others + extra)), group.proof), *decoded.groups[1:])
        forged_tail = _groups_tail(dataclasses.replace(decoded, groups=forged_groups), header.asset_count)
        forged = _rewrap(receipt, body[:-len(tail)] + forged_tail)
        assert _reason(files, forged, account) == "receipt-malformed", position


def test_epochs_chain_as_documented(single):
    first, second = (_published(single, epoch)["bundle"] for epoch in (1, 2))
    genesis = iv.decode_bundle(first, "bundle").header
    assert (genesis.previous_root, genesis.previous_epoch_hash) == (bytes(32), bytes(32))
    files = _published(single, 2)
    account, receipt = sorted(_receipts(single, 2).items())[0]
    _verify(files, receipt, account, previous_bundle=first)
    assert _reason(files, receipt, account, previous_bundle=second) == "epoch-chain-broken"


def _blinding_scalar(secret: bytes, *parts: object) -> int:
    """docs/protocol.md "Blinding derivation", written from the text: HMAC-SHA-512 over the tagged parts, mod r."""
    message = b"zkclear-v1/blinding"
    for part in parts:
        if isinstance(part, bytes):
            tag, body = 1, part
        elif isinstance(part, str):
            tag, body = 2, part.encode("utf-8")
        else:
            tag, body = 3, str(part).encode("ascii")
        message += bytes([tag]) + len(body).to_bytes(4, "big") + body
    return int.from_bytes(hmac.new(secret, message, hashlib.sha512).digest(), "big") % iv.R


def test_the_documents_known_answers_hold_for_the_independent_code():
    """The known answers docs/protocol.md prints (generators, transcript, blinding), read from the document and
    recomputed by code written from it."""
    text = (REPOSITORY / "docs" / "protocol.md").read_text(encoding="utf-8")
    vectors = dict(re.findall(r'generator_vector\(b"zkclear-test/vector", 3\)\[(\d)\] \| `([0-9a-f]{96})`', text))
    assert len(vectors) == 3
    for i, point in enumerate(iv.generator_vector(b"zkclear-test/vector", 3)):
        assert iv.encode_point(point).hex() == vectors[str(i)]

    first, second = re.search(r'challenge_bytes\(b"c1"\)\s+=\s+([0-9a-f]{64})\s+([0-9a-f]{64})', text).groups()
    c2 = int(re.search(r'challenge_scalar\(b"c2"\) = (0x[0-9a-f]+)', text).group(1), 16)
    transcript = iv.Transcript(b"zkclear-test")
    transcript.append_message(b"msg", b"hello")
    transcript.append_u64(b"n", 42)
    transcript.append_scalar(b"s", 7)
    transcript.append_point(b"G", iv.G1)
    assert transcript.challenge_bytes(b"c1").hex() == first + second
    assert transcript.challenge_scalar(b"c2") == c2

    blinding = int(re.search(r'context \("epoch", 1, b"acct-0"\):\s+`(0x[0-9a-f]+)`', text).group(1), 16)
    assert _blinding_scalar(bytes(range(32)), "epoch", 1, b"acct-0") == blinding


def test_account_keys_and_private_file_names_derive_from_the_secret_as_documented(single):
    """docs/protocol.md "Leaf identity" (k_u) and "Receipts" (file names), and docs/format.md's deployment table
    (participant files), from the operator secret's 32 bytes — the operator's side, which an auditor of the operator's
    tooling or a second implementation of it needs."""
    root = single["dir"]
    secret = bytes.fromhex((root / "operator.secret").read_text().strip())
    key = hashlib.sha256(b"zkclear/receipt-file-key/v1" + secret).digest()

    def file_name(epoch: int, account: str) -> str:
        message = b"zkclear/receipt-file/v2" + epoch.to_bytes(8, "big") + account.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]

    header = iv.decode_bundle(_published(single, 1)["bundle"], "bundle").header
    index = json.loads((root / "private" / "1" / "receipts.index").read_text())
    for account, name in index.items():
        assert name == file_name(1, account) + ".rcpt"
        account_key = iv.scalar_bytes(_blinding_scalar(secret, "zkclear/account-key/v1", account))
        receipt = (root / "private" / "1" / "receipts" / name).read_bytes()
        assert iv.decode_receipt(receipt, "receipt", header).account_key == account_key
        participant = (root / "private" / "participants" / (file_name(0, account) + ".toml")).read_text()
        assert f'account_key = "{account_key.hex()}"' in participant


def test_the_audit_data_decodes_and_rebuilds_the_tree_as_documented(multi):
    folder = multi["dir"] / "epochs" / "1"
    bundle, audit, public = (folder / f"epoch-1.{kind}" for kind in ("bundle", "audit", "public.json"))
    summary = iv.audit_tree(bundle.read_bytes(), audit.read_bytes(), public.read_bytes())
    assert summary["chunks"] >= 2 and summary["groups"] >= 2
    header = iv.decode_bundle(bundle.read_bytes(), "bundle").header
    decoded = iv.decode_audit(audit.read_bytes(), "audit", header)
    assert decoded.padding  # two chunks in a sparse tree of height 8: padding siblings
    # one padding blinding changed: that node no longer opens to zero
    position, blindings = next(iter(decoded.padding.items()))
    data = audit.read_bytes()
    old = bytes([position[0]]) + position[1].to_bytes(8, "big") + iv.scalar_bytes(blindings[0])
    new = old[:9] + iv.scalar_bytes(blindings[0] + 1)
    with pytest.raises(iv.CheckFailed) as caught:
        iv.audit_tree(bundle.read_bytes(), _replace_once(data, old, new), public.read_bytes())
    assert caught.value.reason == "padding-node-nonzero"


def test_placement_and_padding_derive_from_the_secret_as_documented(single, multi):
    """docs/protocol.md "Placement (keyed PRF)", "Leaves and nodes" (padding nodes): every account's leaf index and
    every padding node's blindings and digest, recomputed from the operator secret — what a second implementation of
    the operator needs to agree with the first."""
    root = single["dir"]
    secret = bytes.fromhex((root / "operator.secret").read_text().strip())
    header = iv.decode_bundle(_published(single, 1)["bundle"], "bundle").header
    c, height = header.chunk_bits, header.height
    receipts = _receipts(single, 1)
    key = iv.scalar_bytes(_blinding_scalar(secret, "zkclear/tree/placement-key", 1))

    def prf(*parts: bytes) -> bytes:
        return hmac.new(key, b"".join(parts), hashlib.sha256).digest()

    tags = {account: prf(b"zkclear/tree/account-tag/v1", account.encode("utf-8")) for account in receipts}
    needed = max(1, -(-len(tags) // (1 << c)))
    chunk_count = 1 << (needed - 1).bit_length()  # power_of_two, param 1
    chunks: list[list[str]] = [[] for _ in range(chunk_count)]
    for rank, account in enumerate(sorted(tags, key=tags.get)):
        chunks[rank % chunk_count].append(account)
    assert any(0 < len(members) < 1 << c for members in chunks)  # padding accounts share a chunk with real ones
    taken: list[int] = []
    expected = {}
    for chunk, members in enumerate(chunks):
        attempt = 0
        while (position := int.from_bytes(prf(b"zkclear/tree/chunk-position/v1", chunk.to_bytes(8, "big"),
                                               attempt.to_bytes(8, "big")), "big") % (1 << (height - c))) in taken:
            attempt += 1
        taken.append(position)
        occupants = [(tags[account], account) for account in members] + [
            (prf(b"zkclear/tree/padding-tag/v1", chunk.to_bytes(8, "big"), j.to_bytes(8, "big")), "")
            for j in range((1 << c) - len(members))]
        for slot, (_, account) in enumerate(sorted(occupants)):
            if account:
                expected[account] = (position << c) + slot
    assert {account: iv.decode_receipt(receipt, "receipt", header).leaf_index
            for account, receipt in receipts.items()} == expected

    # padding nodes of the three-asset epoch: A liability blindings and the position-vector blinding, and the digest
    root = multi["dir"]
    secret = bytes.fromhex((root / "operator.secret").read_text().strip())
    folder = root / "epochs" / "1"
    header = iv.decode_bundle((folder / "epoch-1.bundle").read_bytes(), "bundle").header
    audit = iv.decode_audit((folder / "epoch-1.audit").read_bytes(), "audit", header)
    assert audit.padding
    for (level, index), blindings in audit.padding.items():
        liabilities = [_blinding_scalar(secret, "zkclear/tree/padding-node", 1, level, index)]
        liabilities += [_blinding_scalar(secret, "zkclear/tree/padding-node", 1, level, index, a)
                        for a in range(1, header.asset_count)]
        vector = _blinding_scalar(secret, "zkclear/tree/padding-position-vector", 1, level, index)
        assert blindings == (*liabilities, vector)
        seed = iv.scalar_bytes(_blinding_scalar(secret, "zkclear/tree/padding-digest", 1, level, index))
        digest = hashlib.sha256(b"zkclear/tree/padding-node/v1" + seed).digest()
        assert audit.upper_nodes[(level, index)].digest == digest
