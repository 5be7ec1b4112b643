"""Red team, session 16: ``zkclear serve`` over a folder holding a symbolic link loop (a tar archive of the
published epochs can carry one). Python before 3.13 raises RuntimeError, not OSError, when it resolves such a
link: the epoch list raised it, so ``zkclear serve`` stopped with a traceback where it prints the epochs it serves,
``/epochs/index.json`` and a request naming the link dropped the connection with a traceback in the log, and
``--export`` failed with a traceback. The loop is now a file that is not there: not listed, not found."""

from __future__ import annotations

import os
import threading

import pytest

from tests.web.test_server import request, site_over
from zkclear.web.export import export_site
from zkclear.web.server import Site, make_server


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    epochs = tmp_path_factory.mktemp("loops") / "epochs"
    site = site_over(epochs, {"1/epoch-1.bundle": b"public bundle 1", "2/epoch-2.public.json": b"[]"})
    os.symlink("epoch-2.bundle", epochs / "2" / "epoch-2.bundle")  # a link to itself
    os.symlink("b", epochs / "a")  # two folders linked to each other
    os.symlink("a", epochs / "b")
    return site


@pytest.fixture(scope="module")
def served(site):
    server = make_server(site, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_symbolic_link_loop_is_neither_listed_nor_served(site, served):
    assert site.epoch_index() == [{"epoch": 1, "bundle": "1/epoch-1.bundle"}]
    status, _, body = request(served, "/epochs/index.json")
    assert status == 200 and b'"epoch": 2' not in body
    for path in ("/epochs/2/epoch-2.bundle", "/epochs/a/epoch-1.bundle"):
        status, _, body = request(served, path)
        assert (status, body) == (404, b"not found\n"), path
    assert request(served, "/epochs/1/epoch-1.bundle")[2] == b"public bundle 1"


def test_the_export_of_a_folder_with_a_link_loop_writes_the_other_epochs(site, tmp_path):
    summary = export_site(site, tmp_path / "out")
    assert summary.epochs == (1,)
    assert (tmp_path / "out" / "epochs" / "1" / "epoch-1.bundle").read_bytes() == b"public bundle 1"
    assert not (tmp_path / "out" / "epochs" / "2").exists()
