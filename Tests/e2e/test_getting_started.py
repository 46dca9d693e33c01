"""docs/getting-started.md's bare-metal path, executed verbatim, then proven with skopeo."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import oci_image
import test_registry as reg
from conftest import REPO


def bare_metal_commands() -> str:
    text = (REPO / "docs" / "getting-started.md").read_text()
    section = text.split("## Bare metal", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 3, "the bare-metal path lost its commands"
    return "\n".join(blocks)


def test_the_bare_metal_path_runs_verbatim():
    data = tempfile.mkdtemp(prefix="kp-start-", dir="/tmp")
    port, registry_port = reg.free_port(), reg.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEYPORT_", "DEMO_"))}
    env.update({"DEMO_DATA": data, "DEMO_PORT": str(port), "DEMO_REGISTRY_PORT": str(registry_port)})
    script = "set -euo pipefail\n" + bare_metal_commands() + "\necho\necho WALKTHROUGH-DONE\nwait\n"
    # Bounded: if the server never comes up, the `until curl` loop must not wait for ever.
    shell = subprocess.Popen(["timeout", "1200", "bash", "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
    output = []
    try:
        for line in shell.stdout:
            output.append(line)
            if "WALKTHROUGH-DONE" in line:
                break
        text = "".join(output)
        assert "WALKTHROUGH-DONE" in text, text[-3000:]
        # The server started in the background logs to the same terminal: a log line may follow
        # the JSON on its line. The first JSON value of the line is the answer.
        token, _ = json.JSONDecoder().raw_decode(next(l for l in output if l.startswith("{") and '"token"' in l))
        assert token["expires_in"] == 300

        reg.wait_http(f"http://127.0.0.1:{registry_port}/v2/")
        image = os.path.join(data, "image")
        oci_image.write_layout(image, tag="v1")
        target = f"docker://127.0.0.1:{registry_port}/demo/hello:1"
        code, out = reg.run(reg.need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", "demo:demo-password-1", f"oci:{image}:v1", target)
        assert code == 0, out
        code, out = reg.run(reg.need("skopeo"), "inspect", "--tls-verify=false", "--creds", "viewer:viewer-password-1", target)
        assert code == 0, out
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        try:
            shell.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(shell.pid, signal.SIGKILL)
        shutil.rmtree(data, ignore_errors=True)
