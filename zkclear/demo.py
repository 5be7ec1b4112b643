"""``zkclear demo``: the whole life of a deployment, from nothing, each step printed.

1. generate a synthetic market (traders, liquidators, an insurance fund, perpetuals and a dated future,
   a price path with a crash) as input files;
2. create a deployment (configuration, operator secret, ledger) and four reserve custodians' keys (BTC on
   Bitcoin, ETH and USDC on Ethereum, USDC on Solana: test keys derived for the demo);
3. for every epoch: clear it (novation, netting, funding, mark-to-market, margin, liquidation, the default
   waterfall), commit it atomically, then prove it (commitments, collateralization proofs per chunk, the
   sum tree and its node proofs, matched book, solvency) and attest the reserves;
4. one participant checks their own receipt; an auditor checks every epoch and the chain;
5. a tampered bundle is shown to fail the audit.

``zkclear demo`` is the quick start (:data:`QUICK`: 26 traders, 2 epochs, the crash in the second);
``zkclear demo --full`` the long market (:data:`FULL`).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from zkclear.errors import ConfigurationError, VerificationError
from zkclear.executor import EXECUTOR_KINDS, get_executor
from zkclear.progress import ProgressLine
from zkclear.synthetic import MarketSpec

MARKER = ".zkclear-demo"
#: The demo venue's public name (every custodian's attestation text names it).
DEMO_VENUE = "zkclear demo venue"
#: The quick start (``zkclear demo``): traders and epochs. A market this size still has every mechanism:
#: the crash liquidates some traders and bankrupts others beyond the insurance fund (ADL); 26 traders,
#: 2 liquidators and the house's 3 accounts fit in 2 chunks of 16 (tests/cli/test_demo_options.py).
QUICK = (26, 2)
#: ``zkclear demo --full``: the long market.
FULL = (200, 4)
#: The demo market's random seed: with it the quick market's crash liquidates a BTC and an ETH holder, so the
#: engine converts collateral of both assets (tests/cli/test_demo_options.py).
DEMO_SEED = 26
#: Limits of the demo's options (beyond them it would run for hours; a deployment has no such limits).
MAX_ACCOUNTS = 5_000
MAX_EPOCHS = 12
#: Accounts besides the traders: two liquidators and the clearing house's three.
_HOUSE_ACCOUNTS = 5


def check_options(accounts: int, epochs: int, height: int, chunk_bits: int, executor: str) -> None:
    """ConfigurationError (one line, naming the option) unless the demo can run with these options."""
    from zkclear.tree.placement import TreeConfig

    if not 2 <= accounts <= MAX_ACCOUNTS:
        raise ConfigurationError(f"--accounts must be in [2, {MAX_ACCOUNTS}] (two traders make a market), "
                                 f"got {accounts}")
    if not 1 <= epochs <= MAX_EPOCHS:
        raise ConfigurationError(f"--epochs must be in [1, {MAX_EPOCHS}], got {epochs}")
    if executor not in EXECUTOR_KINDS:
        raise ConfigurationError(f"--executor must be one of {', '.join(EXECUTOR_KINDS)}, got {executor!r}")
    try:
        TreeConfig(height=height, chunk_bits=chunk_bits).chunk_count(accounts + _HOUSE_ACCOUNTS)
    except ConfigurationError as exc:
        hint = (f" (the demo's chunks of {1 << chunk_bits} accounts need --height {chunk_bits + 1} or more)"
                if 2 <= height <= chunk_bits else "")
        raise ConfigurationError(f"--height {height}: {exc}{hint}") from None


def _prepare(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists():
        if not (out_dir / MARKER).exists():
            raise ConfigurationError(f"{out_dir} exists and is not a zkclear demo directory: choose another --out")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    (out_dir / MARKER).write_text("created by zkclear demo; safe to delete\n")
    return out_dir


def market_spec(accounts: int, epochs: int) -> MarketSpec:
    """The demo's synthetic market. The crash comes after at least one epoch of trading (a one-epoch demo
    has none); the insurance fund scales with the market so that the crash exhausts it and ADL shows (a
    crash after a single epoch of trading meets smaller exposures, hence the smaller fund then)."""
    crash_epoch = min(3, epochs) if epochs > 1 else 2
    fund_per_trader = 1_000_000_000 if crash_epoch >= 3 else 250_000_000
    return MarketSpec(accounts=accounts, epochs=epochs, crash_epoch=crash_epoch,
                      fills_per_epoch=max(50, 2 * accounts), insurance_fund=fund_per_trader * accounts,
                      collateral=True, seed=DEMO_SEED, publish_insurance_fund=True)


#: The demo's reserve custodians: (chain, asset) per key, one address each (a Bitcoin address holds only BTC).
CUSTODIANS = (("bitcoin", "BTC"), ("ethereum", "ETH"), ("ethereum", "USDC"), ("solana", "USDC"))
#: Reserves held above the liabilities, in parts per million (the demo's custodians hold 5 % more).
RESERVE_MARGIN_PPM = 50_000


def run_demo(out_dir: Path, *, accounts: int | None = None, epochs: int | None = None, height: int = 32,
             chunk_bits: int = 4, executor: str = "process", full: bool = False,
             echo: Callable[[str], None] = print, progress: ProgressLine | None = None) -> dict:
    """Run the demo; returns a summary (used by the tests). Raises if any check fails.

    ``accounts`` and ``epochs`` default to :data:`QUICK` (:data:`FULL` with ``full``). Bad options are
    refused with a ConfigurationError before anything is written. ``progress`` shows the proving steps
    (default: a progress line on ``echo``'s terminal)."""
    from zkclear.chains import write_key
    from zkclear.operator import Deployment
    from zkclear.proofs.reserves import venue_assets
    from zkclear.proving_settings import ProvingSettings
    from zkclear.synthetic import generate_market
    from zkclear.tree.placement import TreeConfig

    default_accounts, default_epochs = FULL if full else QUICK
    accounts = default_accounts if accounts is None else accounts
    epochs = default_epochs if epochs is None else epochs
    check_options(accounts, epochs, height, chunk_bits, executor)
    started = time.perf_counter()
    out_dir = _prepare(out_dir)
    spec = market_spec(accounts, epochs)
    crash = (f"{-spec.crash_ppm / 10_000:.0f}% crash in epoch {spec.crash_epoch}" if spec.crash_epoch <= epochs
             else "no crash (it needs a second epoch)")
    echo(f"== 1. synthetic market: {accounts} traders (a quarter on portfolio margin), 2 liquidators; "
         "BTC and ETH perpetuals, a dated future, a call and a put on BTC; marks from 3 oracle sources; "
         "settles in USDC, takes BTC and ETH as collateral with tiered haircuts (every fifth trader posts most "
         f"of its capital in them); {epochs} epoch{'s' if epochs > 1 else ''}, {crash}")
    config_path, epoch_inputs = generate_market(out_dir / "market", spec)
    written = sorted({path.name for folder in epoch_inputs for path in folder.iterdir()})  # what is there, by name
    echo(f"   input files under {out_dir / 'market'} (zkclear.toml; epoch-N/: {', '.join(written)})")

    echo("== 2. deployment: configuration, operator secret, empty ledger; four reserve custodians (test keys: "
         "BTC on Bitcoin, ETH and USDC on Ethereum, USDC on Solana)")
    settings = ProvingSettings(tree=TreeConfig(height=height, chunk_bits=chunk_bits), executor=executor,
                               venue=DEMO_VENUE)
    config_text = config_path.read_text(encoding="utf-8")
    deployment = Deployment.init(out_dir / "venue", config_text, settings)
    keys, holders = custodians()
    for i, key in enumerate(keys, start=1):
        write_key(out_dir / f"custodian-{i}.key", key)
    assets = ", ".join(f"{a.asset_id} ({a.decimals} decimals)" for a in venue_assets(config_text))
    echo(f"   {deployment.root}: tree height {height}, chunks of {1 << chunk_bits} accounts; venue {DEMO_VENUE!r}; "
         f"assets {assets}")
    for key, (_chain, asset) in zip(keys, CUSTODIANS, strict=True):
        echo(f"   custodian of {asset} on {key.chain}: {key.address.text}")

    summary: dict = {"epochs": []}
    line = progress or ProgressLine(echo)
    # One pool for every epoch and the audits: workers keep their generator caches, and no pool is left
    # for the interpreter to tear down.
    run = get_executor(executor)
    try:
        for number, inputs_dir in enumerate(epoch_inputs, start=1):
            _demo_epoch(deployment, number, inputs_dir, holders, keys, out_dir, run, echo, summary, line)
        _check_and_audit(deployment, epochs, out_dir, run, echo, summary)
    finally:
        run.close()
    summary["seconds"] = time.perf_counter() - started
    echo(f"== done in {summary['seconds']:.0f}s. Try: zkclear audit {deployment.epoch_dir(epochs)}  |  "
         f"zkclear show {deployment.epoch_dir(epochs)}")
    return summary


def _check_and_audit(deployment, epochs: int, out_dir: Path, run, echo: Callable[[str], None],
                     summary: dict) -> None:
    """Steps 4–6: a participant's check of their receipts, the audit of every epoch, a rejected replay."""
    from zkclear.proofs.recompute import check_inputs_chain, check_public_inputs
    from zkclear.verifier.audit import audit_epoch
    from zkclear.verifier.insurance_fund import check_insurance_fund
    from zkclear.verifier.participant import Participant, verify_history
    from zkclear.verifier.published import open_published
    from zkclear.verifier.receipt import Expected

    last = epochs
    traders = [a for a in deployment.accounts(last) if a.account_id.startswith("trader-")]
    # A trader holding collateral and positions shows the most; then one holding either; then any trader.
    participant = max(traders, key=lambda a: (any(a.witness.balances) and any(a.witness.positions),
                                              any(a.witness.positions), any(a.witness.balances)))
    who = Participant(participant.account_id, deployment.account_key(participant.account_id))
    history = [(open_published(deployment.epoch_dir(n)), None) for n in range(1, last + 1)]
    pairs = [(published, published.receipt(deployment.receipt_path(published.epoch, who.account_id)))
             for published, _ in history
             if who.account_id in _receipt_index(deployment, published.epoch)]
    echo(f"== 4. participant {who.account_id} checks their receipts of epochs "
         f"{', '.join(str(p.epoch) for p, _ in pairs)} (their own id and key; header hashes as posted)")
    expectations = [Expected(header_hash=published.bundle.epoch_hash()) for published, _ in pairs]
    expectations[-1] = Expected(cash=participant.witness.cash, positions=participant.witness.positions,
                                margin_mode=participant.witness.margin_mode,
                                header_hash=pairs[-1][0].bundle.epoch_hash())
    checks = verify_history(pairs, who, expectations)
    check = checks[-1]
    collateral = "".join(f", {asset} {balance} (haircut value {value})" for asset, balance, value in check.collateral
                         if balance)
    echo(f"   OK: leaf {check.leaf_index}, {check.margin_mode} margin, cash {check.cash}{collateral}, positions "
         f"{check.positions}, equity {check.equity} >= maintenance {check.requirement}; path, root statements, "
         "siblings' range proofs and the chunk's collateralization proof verified; the epochs chain")
    published = pairs[-1][0]

    echo(f"== 5. auditor checks epochs 1..{last}, recomputes their public data and checks their chain")
    previous, previous_inputs, fund_key = None, None, None
    for number in range(1, last + 1):
        epoch_published = open_published(deployment.epoch_dir(number))
        check_public_inputs(epoch_published.inputs, epoch_published.public, epoch=number)
        check_inputs_chain(previous_inputs, epoch_published.inputs)
        previous_inputs = epoch_published.inputs
        report = audit_epoch(epoch_published, epoch_published.audit_data(), previous=previous, executor=run)
        previous = epoch_published.bundle.chain_link()
        reserves = "; ".join(f"{r.asset_id} {r.total} ("
                             + ", ".join(f"{chain} {amount}" for chain, amount in r.by_chain) + ")"
                             for r in report.reserves)
        echo(f"   epoch {number}: OK ({report.chunks} chunks, {report.leaves} leaves; reserves {reserves} cover the "
             f"hidden totals, every address attested; header hash {report.header_hash[:16]}...)")
        fund = check_insurance_fund(epoch_published, fund_key)
        if fund is not None:
            fund_key = fund.account_key
            held = ", ".join([f"{fund.check.cash} USDC",
                              *(f"{balance} {asset}" for asset, balance, _ in fund.check.collateral if balance)])
            echo(f"   epoch {number}: the insurance fund holds {held} (smallest units; its published receipt verified)")

    tampering = (f"epoch {last} carrying epoch {last - 1}'s solvency proof (a replay)" if last > 1
                 else f"epoch {last} with one bit of its solvency proof flipped")
    echo(f"== 6. a tampered bundle: {tampering}")
    tampered = _tampered_copy(published.files.directory, out_dir / "tampered", last)
    try:
        bad = open_published(tampered)
        audit_epoch(bad, bad.audit_data(), executor=run)
    except VerificationError as exc:
        reason = exc.reason
        echo(f"   rejected as expected: {reason}")
        summary["tamper_rejected"] = reason
    else:
        # not a failed check of the venue's files but a defect of the verifier itself: an internal error (exit 3)
        raise RuntimeError("the audit accepted the tampered bundle (a verifier defect: please report it)")
    summary["participant"] = participant.account_id


def _demo_epoch(deployment, number: int, inputs_dir: Path, holders: list[tuple[str, str, str]], keys: list,
                out_dir: Path, run, echo: Callable[[str], None], summary: dict, progress: ProgressLine) -> None:
    """Clear, commit, prove and attest one epoch of the demo."""
    from zkclear.chains import load_reserves
    from zkclear.clearing.config import INSURANCE_FUND

    echo(f"== 3.{number} epoch {number}: clear and commit")
    result = deployment.run_epoch(inputs_dir, number)
    report = result.report
    with deployment.ledger() as ledger:
        state = ledger.state(number)
    echo(f"   {len(ledger_inputs_fills(deployment, number))} fills; liquidations {len(report.liquidations)}, "
         f"ADL {len(report.adl)}, socialized {len(report.socialized)}, "
         f"insurance fund {state.cash_of(INSURANCE_FUND)}")
    for conversion in report.conversions:
        echo(f"   collateral converted at liquidation: {conversion.account}'s {conversion.amount} {conversion.asset} "
             f"(smallest units) at {conversion.price} ticks -> {conversion.proceeds} USDC units, "
             f"{conversion.penalty} of them to the insurance fund")
    marks = dict(zip(state.instruments, state.settlement_prices, strict=True))
    dropped = sum(len(decision["dropped"]) for decision in report.oracle_decisions)
    echo(f"   marks (ticks; options by Black-76) {marks}; oracle quotes dropped {dropped}")
    owed = deployment.liabilities(number, state)  # the state just read: no scratch copy of the accounts
    echo("   liabilities per asset (smallest units; negative cash counts as 0): "
         + ", ".join(f"{asset} {amount}" for asset, amount in owed.items()))
    reserves_path = out_dir / f"reserves-{number}.csv"
    reserves_path.write_text(demo_reserves_csv(deployment, number, holders, owed))
    echo(f"== 3.{number} epoch {number}: prove (every account, in chunks; tree; matched book; solvency); the "
         "custodians attest with their chains' signed messages")
    proven, artifacts = deployment.prove(number, load_reserves(reserves_path), reserve_keys=keys, executor=run,
                                         reserves_path=str(reserves_path), progress=progress.update)
    progress.finish()
    t = artifacts.timings
    echo(f"   header hash {artifacts.bundle.epoch_hash().hex()[:16]}..., {artifacts.accounts} receipts; "
         f"collateral proofs {t.get('chunk_proofs', 0):.1f}s, node proofs {t.get('node_proofs', 0):.1f}s; "
         f"bundle {proven.publish.bundle.stat().st_size} B, audit data {proven.publish.audit.stat().st_size} B")
    summary["epochs"].append({"epoch": number, "liquidations": len(report.liquidations), "adl": len(report.adl),
                              "socialized": len(report.socialized), "accounts": artifacts.accounts,
                              "conversions": len(report.conversions), "liabilities": owed})



def custodians() -> tuple[list, list[tuple[str, str, str]]]:
    """The demo's custodian test keys (one per :data:`CUSTODIANS` row, derived from a fixed label) and the
    ``(chain, asset, address)`` each holds."""
    from zkclear.chains import key_from_secret

    keys = [key_from_secret(chain, hashlib.sha256(f"zkclear demo custodian {i}".encode()).digest())
            for i, (chain, _asset) in enumerate(CUSTODIANS, start=1)]
    return keys, [(key.chain, asset, key.address.text) for key, (_chain, asset) in zip(keys, CUSTODIANS, strict=True)]


def demo_reserves_csv(deployment, number: int, holders: list[tuple[str, str, str]],
                      liabilities: dict[str, int] | None = None) -> str:
    """reserves.csv v2 for epoch ``number``: each asset's liabilities (``liabilities``, else computed) plus
    :data:`RESERVE_MARGIN_PPM` (rounded up), split over its holders, in their chain's smallest unit (a native coin
    counts in its chain's unit — ETH in wei, the venue's in gwei —, a token in the asset's own decimals:
    zkclear.proofs.reserves)."""
    from zkclear.chains.networks import get_chain
    from zkclear.chains.tokens import registered_token
    from zkclear.proofs.reserves import venue_assets
    from zkclear.synthetic import reserves_csv

    decimals = {a.asset_id: a.decimals for a in venue_assets(deployment.config_text())}
    held = {}
    for asset, amount in (liabilities if liabilities is not None else deployment.liabilities(number)).items():
        chain = get_chain(next(h[0] for h in holders if h[1] == asset))
        token = registered_token(chain.name, asset)  # the demo's custodians hold registered tokens
        chain_decimals = chain.native_decimals if chain.native_asset == asset else (token or ('', decimals[asset]))[1]
        with_margin = -(-amount * (1_000_000 + RESERVE_MARGIN_PPM) // 1_000_000)  # rounded up
        held[asset] = with_margin * 10 ** (chain_decimals - decimals[asset])
    return reserves_csv(holders, held)


def _receipt_index(deployment, number: int) -> dict:
    import json

    return json.loads((deployment.private_dir(number) / "receipts.index").read_text(encoding="utf-8"))


def ledger_inputs_fills(deployment, number: int):
    with deployment.ledger() as ledger:
        return ledger.inputs(number).fills


def _tampered_copy(directory: Path, target: Path, epoch: int) -> Path:
    """A copy of the epoch whose bundle carries the previous epoch's solvency proof (a replay), re-encoded
    so that the container itself is well-formed: only the proof's binding to this epoch can catch it."""
    from dataclasses import replace

    from zkclear.bundle.format import decode_public_bundle, encode_public_bundle

    shutil.copytree(directory, target)
    path = target / f"epoch-{epoch}.bundle"
    bundle = decode_public_bundle(path.read_bytes())
    donor_path = directory.parent / str(epoch - 1) / f"epoch-{epoch - 1}.bundle"
    if donor_path.exists():
        donor = decode_public_bundle(donor_path.read_bytes())
        bundle = replace(bundle, solvency_proof=donor.solvency_proof)
    else:
        proof = bytearray(bundle.solvency_proof)
        proof[-1] ^= 0x01
        bundle = replace(bundle, solvency_proof=bytes(proof))
    path.write_bytes(encode_public_bundle(bundle))
    return target
