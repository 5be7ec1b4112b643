"""The scale-out tests' deployment and the files of its uninterrupted close (built once per test process)."""

from __future__ import annotations

import pytest

from tests.scale.venue import Venue, make_venue, snapshot
from zkclear.executor import SerialExecutor
from zkclear.operator import Deployment


@pytest.fixture(scope="session")
def venue(tmp_path_factory) -> Venue:
    return make_venue(tmp_path_factory.mktemp("scale-venue"))


@pytest.fixture(scope="session")
def reference(venue, tmp_path_factory) -> dict[str, bytes]:
    """The files of an uninterrupted prove (in-process, serial: the same bytes as any executor)."""
    root = venue.copy(tmp_path_factory.mktemp("reference") / "venue")
    Deployment(root).prove(1, venue.reserve_entries(), reserve_keys=venue.reserve_keys(), executor=SerialExecutor())
    files = snapshot(root)
    assert not any("/work/" in name for name in files)
    assert any(name.startswith("private/1/receipts/") for name in files)
    return files


