"""``zkclear bench waterfall``: many bankrupt accounts against many payers, in one epoch (the sybil crash).

A deployment with ``deficit_resolution = "socialized_loss"`` and an empty insurance fund. Epoch 1 (untimed)
opens ``B`` accounts that each buy one lot of a perpetual from a dealer with a small deposit, and ``P`` flat
accounts that only deposit; epoch 2 (timed) moves the mark down so that every one of the ``B`` accounts is
bankrupt in the same liquidation round, its residue socialized over the ``P`` accounts (and the dealer).

Full run: ``B`` = 100, ``P`` = 20,000 (the red team's case, session 16); ``--quick``: 100 and 2,000. Metrics:
``epoch_seconds`` (``apply_epoch`` of epoch 2), ``socialized_entries`` (bankrupt residues plus payers' amounts in
``report.socialized``), ``report_bytes`` (the report's canonical JSON).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from zkclear.clearing.config import ClearingConfig, DeficitResolution
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.inputs import AccountOpen, EpochInputs, Fill, Fills, MarkPrice, Transfer
from zkclear.clearing.instruments import InstrumentSpec
from zkclear.clearing.state import EpochState, canonical_json

PERP = "PERP"
PRICE = 30_000


def sybil_epochs(bankrupts: int, payers: int) -> tuple[ClearingConfig, EpochInputs, EpochInputs]:
    """The deployment and its two epochs: each bankrupt deposits 160,000 (above its maintenance requirement
    150,000) and buys ten lots (10 settlement units a tick) at 30,000 from the dealer; each payer deposits about
    1,000,000. The mark falls to 28,000, a loss of 200,000 a bankrupt, so each ends at −40,000 with nothing in the
    fund, and each payer's share of each residue is about 2."""
    spec = InstrumentSpec(PERP, "perpetual", tick_size=1, lot_size=1, contract_multiplier=10,
                          initial_margin_ppm=100_000, maintenance_margin_ppm=50_000)
    config = ClearingConfig(instruments=(spec,), deficit_resolution=DeficitResolution.SOCIALIZED_LOSS)
    losers = [f"bankrupt{k:06d}" for k in range(bankrupts)]
    others = [f"payer{k:07d}" for k in range(payers)]
    transfers = ([Transfer("dep-dealer", "deposit", "dealer", 20 * bankrupts * 10**5)]
                 + [Transfer(f"dep-{a}", "deposit", a, 160_000) for a in losers]
                 + [Transfer(f"dep-{a}", "deposit", a, 1_000_000 + k) for k, a in enumerate(others)])
    fills = [Fill(f"f-{a}", a, "dealer", PERP, 10, PRICE) for a in losers]
    first = EpochInputs(epoch=1, fills=Fills.from_records(fills), marks=(MarkPrice(PERP, PRICE, 0),),
                        transfers=tuple(transfers),
                        opens=tuple(AccountOpen(a) for a in ["dealer", *losers, *others]))
    second = EpochInputs(epoch=2, fills=Fills.from_records([]), marks=(MarkPrice(PERP, PRICE - 2_000, 0),))
    return config, first, second


def run(quick: bool, echo: Callable[[str], None]) -> dict[str, float]:
    bankrupts, payers = (100, 2_000) if quick else (100, 20_000)
    config, first, second = sybil_epochs(bankrupts, payers)
    state, _ = apply_epoch(EpochState.genesis(config), first, config)
    started = time.perf_counter()
    _, report = apply_epoch(state, second, config)
    seconds = time.perf_counter() - started
    canonical = report.to_canonical()
    entries = sum(len(loss.residues) + len(loss.charges) for loss in report.socialized)
    size = len(canonical_json(canonical))
    echo(f"{bankrupts} bankrupt accounts, {payers} payers: epoch {seconds:.2f} s, "
         f"{len(report.liquidations)} liquidations, {entries} socialized entries, report {size:,} bytes")
    return {"epoch_seconds": seconds, "socialized_entries": entries, "report_bytes": size}


if __name__ == "__main__":
    run(quick="--quick" in sys.argv, echo=print)
