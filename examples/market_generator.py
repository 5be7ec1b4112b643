"""Write a synthetic market (the demo's generator) as input files: a configuration and one folder per epoch.

    python examples/market_generator.py OUT_DIR [--accounts 200] [--epochs 4] [--seed 2026] [--collateral]

With --collateral the market settles in USDC and takes BTC and ETH as collateral with tiered haircuts ([[asset]]
tables in zkclear.toml, an asset column in transfers.csv), as the demo's does.

Then clear and prove it with the CLI, e.g.::

    zkclear init venue --config OUT_DIR/zkclear.toml
    zkclear epoch run OUT_DIR/epoch-1 -d venue
"""

from __future__ import annotations

from pathlib import Path

from script_support import Parser, at_least, run

from zkclear.synthetic import MarketSpec, generate_market


def main() -> None:
    parser = Parser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--accounts", type=at_least(2), default=200, help="traders (two make a market)")
    parser.add_argument("--epochs", type=at_least(1), default=4)
    parser.add_argument("--seed", type=at_least(0), default=2026)
    parser.add_argument("--collateral", action="store_true", help="BTC and ETH collateral with tiered haircuts")
    args = parser.parse_args()
    if args.out_dir.is_dir() and any(args.out_dir.iterdir()):  # never mixed with (or written over) earlier files
        parser.error(f"{args.out_dir} is not empty: choose a new folder (the market's files would replace or mix "
                     "with what is there)")
    spec = MarketSpec(accounts=args.accounts, epochs=args.epochs, seed=args.seed, collateral=args.collateral)
    config, epochs = generate_market(args.out_dir, spec)
    print(f"configuration: {config}")
    for path in epochs:
        fills = sum(1 for _ in (path / "fills.csv").open()) - 1
        print(f"{path}: {fills} fills")


if __name__ == "__main__":
    run(main)
