"""Starts the real keyport binary for the end-to-end tests, on a free port and a fresh database."""
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "e2e-admin-password"


def keyport_binary() -> str:
    path = os.environ.get("KEYPORT_BIN", str(REPO / ".build" / "debug" / "keyport"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"keyport is not built at {path}: run `swift build` first (scripts/test does)")
    return path


class Keyport:
    def __init__(self, data_dir: str, env: dict | None = None, port: int = 0, preexec_fn=None):
        self.data_dir = data_dir
        self.log = open(os.path.join(data_dir, "keyport.log"), "w+")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("KEYPORT_")}
        environment.update({"KEYPORT_BOOTSTRAP_ADMIN_USERNAME": "admin", "KEYPORT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD})
        environment.update(env or {})
        self.process = subprocess.Popen(
            [keyport_binary(), "start-dev", "--http-port", str(port), "--db-path", os.path.join(data_dir, "keyport.db")],
            stdout=self.log, stderr=self.log, env=environment, cwd=data_dir, preexec_fn=preexec_fn)
        self.port = self._wait_ready()
        self.url = f"http://127.0.0.1:{self.port}"
        # start-dev's default public URL follows the bound port.
        self.hostname = (env or {}).get("KEYPORT_HOSTNAME", f"http://localhost:{self.port}")

    def _wait_ready(self) -> int:
        deadline = time.time() + 30
        while time.time() < deadline:
            self.log.seek(0)
            match = re.search(r'msg="Keyport is ready".*listening=http://[^:]+:(\d+)', self.log.read())
            if match:
                port = int(match.group(1))
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5)
                return port
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.log.seek(0)
        raise RuntimeError("keyport did not start:\n" + self.log.read())

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def keyport():
    with tempfile.TemporaryDirectory(prefix="keyport-e2e-") as data_dir:
        server = Keyport(data_dir)
        yield server
        server.stop()
        server.log.seek(0)
        log = server.log.read()
        # Secrets never reach the log.
        assert ADMIN_PASSWORD not in log
        assert "s3cret-Alice-1" not in log


@pytest.fixture
def chromium():
    """Headless Chromium driven by selenium (Debian's chromium and chromium-driver), its own profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="kp-chromium-")
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                     f"--user-data-dir={profile}", "--no-first-run", "--disable-features=HttpsUpgrades"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
