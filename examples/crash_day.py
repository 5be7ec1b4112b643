"""A crash day through the whole default waterfall: liquidation, insurance fund, then auto-deleveraging.

A book of a few hundred traders, a thinly capitalized insurance fund, and a −35 % move in one epoch:
positions are taken over by liquidators, bankrupt accounts drain the insurance fund, and the residue is
auto-deleveraged against profitable opposite positions (or socialized: ``--socialized``). Conservation
(Σ cash = Σ deposits − Σ withdrawals) and a matched book are checked after every epoch.

    python examples/crash_day.py [--accounts 300] [--socialized]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from script_support import Parser, at_least, run

from zkclear.clearing.config import INSURANCE_FUND
from zkclear.clearing.engine import apply_epoch
from zkclear.clearing.io import load_config, load_epoch
from zkclear.clearing.state import EpochState
from zkclear.synthetic import MarketSpec, generate_market


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=at_least(2), default=300, help="traders (two make a market)")
    parser.add_argument("--socialized", action="store_true", help="socialized loss instead of ADL")
    args = parser.parse_args()
    spec = MarketSpec(accounts=args.accounts, epochs=3, crash_epoch=3, fills_per_epoch=4 * args.accounts,
                      insurance_fund=1_000_000_000, seed=7,
                      deficit_resolution="socialized_loss" if args.socialized else "adl")
    with tempfile.TemporaryDirectory() as tmp:
        config_path, epoch_dirs = generate_market(Path(tmp), spec)
        config = load_config(config_path)
        state = EpochState.genesis(config)
        for number, directory in enumerate(epoch_dirs, start=1):
            state, report = apply_epoch(state, load_epoch(directory, number, config), config)
            conserved = int(state.cash.sum()) == state.total_deposited - state.total_withdrawn
            matched = not state.positions.sum(axis=0).any()
            print(f"epoch {number}: marks {state.settlement_prices}; liquidations {len(report.liquidations)}, "
                  f"ADL {len(report.adl)}, socialized {len(report.socialized)}, backstop top-ups "
                  f"{len(report.backstop_topups)}; insurance fund {state.cash_of(INSURANCE_FUND)}; "
                  f"conservation {'OK' if conserved else 'BROKEN'}; book {'matched' if matched else 'UNMATCHED'}")
            for event in report.adl[:5]:
                print(f"   ADL: {event}")
            for loss in report.socialized[:5]:  # one socialized loss per liquidation round
                print(f"   socialized: {loss.total} for {len(loss.residues)} bankrupt accounts "
                      f"{[account for account, _ in loss.residues[:3]]}, charged to {len(loss.charges)} accounts")
            if not (conserved and matched):
                raise SystemExit("invariant broken")


if __name__ == "__main__":
    run(main)
