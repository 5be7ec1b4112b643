"""The page's tests share one small deployment (tests/web/deployment.py), built once per run even across
pytest-xdist workers (a lock file in the run's shared temporary folder)."""

from __future__ import annotations

import fcntl
import shutil

import pytest

from tests.web.deployment import WebDeployment, build


@pytest.fixture(scope="session")
def web_deployment(tmp_path_factory, worker_id) -> WebDeployment:
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if worker_id != "master" else base
    folder = shared / "web-deployment"
    with open(shared / "web-deployment.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / ".built").touch()
    return WebDeployment(folder, folder / "venue" / "epochs")
