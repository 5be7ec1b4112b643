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


@pytest.fixture(scope="module")
def chromium():
    """Headless Chromium, one per module (its tests skipped where tests/web/test_browser.py is)."""
    from tests.web import test_browser  # skips this fixture's tests as that module skips itself

    with test_browser.sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(test_browser.CHROMIUM), args=test_browser.FLAGS,
                                             headless=True)
        yield browser
        browser.close()
