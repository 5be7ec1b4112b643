"""Fixtures shared by the clearing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkclear.clearing.io import load_config
from zkclear.synthetic import MarketSpec, generate_market


@pytest.fixture(scope="module")
def small_collateral_market(tmp_path_factory) -> tuple[object, list[Path]]:
    """A two-epoch market of 12 traders with collateral assets (its configuration, its epoch folders)."""
    root = tmp_path_factory.mktemp("small-collateral-market")
    config_path, epoch_dirs = generate_market(root / "market", MarketSpec(accounts=12, epochs=2, fills_per_epoch=30,
                                                                          seed=7, collateral=True))
    return load_config(config_path), epoch_dirs
