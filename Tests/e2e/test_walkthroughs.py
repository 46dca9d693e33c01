"""The docs' walkthroughs one after another in one shell, as a newcomer follows them — the
README's Quick start server left running, then getting-started's bare-metal path, then
admin-cli's walk-through — each on the ports its page gives (8080, 8180/5180, 5000), so a page
that reuses another's port or folder, or whose wait loop is satisfied by another page's server,
fails here. They run in a network namespace of their own: the pages' default ports are free
there whatever this machine runs, and nothing here reaches the machine's own."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

import oci_image
from conftest import REPO
from test_admin_cli import walkthrough_commands
from test_getting_started import bare_metal_commands

QUICK_START_PASSWORD = "quick-start-admin-1"


def test_the_walkthroughs_run_back_to_back_in_one_shell():
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for a private network namespace")
    root = tempfile.mkdtemp(prefix="kp-walk-", dir="/tmp")
    image = os.path.join(root, "image")
    oci_image.write_layout(image, tag="v1")
    os.makedirs(os.path.join(root, "admin-cli"))
    # Where the pages let a reader choose (their data folders, the admin password), the choice
    # keeps this checkout clean; every port is the page's own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYPORT_", "KPADM_", "LOCAL_REGISTRY_", "DEMO_"))}
    env.update({"HOME": root, "PATH": f"{REPO / '.build' / 'debug'}:{env.get('PATH', '')}"})
    skopeo = shutil.which("skopeo")
    script = f"""
set -euo pipefail
ip link set lo up
cd {REPO}
# README's Quick start: the server stays on 8080 while the reader goes on.
KEYPORT_DB_PATH={root}/quick-start.db KEYPORT_BOOTSTRAP_ADMIN_PASSWORD={QUICK_START_PASSWORD} scripts/start-dev > {root}/quick-start.log 2>&1 &
until curl -sf -o /dev/null http://localhost:8080/health/ready; do sleep 0.5; done
echo "=== getting-started"
DEMO_DATA={root}/demo
{bare_metal_commands()}
echo "=== admin-cli"
cd {root}/admin-cli
export KPADM_PASSWORD={QUICK_START_PASSWORD}
{walkthrough_commands()}
echo "=== proof"
{skopeo} copy --dest-tls-verify=false --dest-creds demo:demo-password-1 oci:{image}:v1 docker://localhost:5180/demo/hello:1
{skopeo} copy --dest-tls-verify=false --dest-creds alice:Alice-pw-1 oci:{image}:v1 docker://localhost:5000/team-a/app:1
echo BACK-TO-BACK-DONE
"""
    log_path = os.path.join(root, "walkthroughs.log")
    with open(log_path, "w") as log:
        # The servers the pages start stay in the background (as they would in a terminal): the
        # shell's end, not its output's, says the pages are done.
        shell = subprocess.Popen(["timeout", "1200", "unshare", "--net", "bash", "-c", script], cwd=root, env=env,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status = shell.wait(timeout=1300)
        text = open(log_path).read()
        assert status == 0 and "BACK-TO-BACK-DONE" in text, f"exit {status}: " + text[-5000:]
        for collision in ("already answers on port", "Keyport stopped", "the registry stopped", "address already in use", "problem ["):
            assert collision not in text, f"{collision!r}: " + text[-5000:]
        assert "No problem found between realm acme and the registry" in text, text[-5000:]
        # getting-started's token request was answered by its own server (the demo realm).
        assert re.search(r'"token":"ey', text), text[-3000:]
    finally:
        os.killpg(shell.pid, 15)
        try:
            shell.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, 9)
        shutil.rmtree(root, ignore_errors=True)
