"""docker-compose.yml: it validates, and the same configuration works without containers —
Keyport with the compose file's command and environment and the sample realm, Debian's
docker-registry with the compose file's auth.token settings and the bundle Keyport wrote — and
the demo user logs in and pushes."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml

import oci_image
import test_registry as reg
from conftest import REPO, keyport_binary

COMPOSE = REPO / "docker-compose.yml"


def test_the_compose_file_validates():
    compose = reg.need("docker-compose")
    env = dict(os.environ, KEYPORT_ADMIN_PASSWORD="x")
    code, out = reg.run(compose, "-f", str(COMPOSE), "config", "-q", env=env)
    assert code == 0, out


def test_the_compose_configuration_works_without_containers():
    spec = yaml.safe_load(COMPOSE.read_text())
    keyport_spec, registry_spec = spec["services"]["keyport"], spec["services"]["registry"]
    root = tempfile.mkdtemp(prefix="kp-compose-", dir="/tmp")
    port, registry_port = reg.free_port(), reg.free_port()
    paths = {"/data": f"{root}/data", "/certs": f"{root}/certs"}

    def local(value: str) -> str:
        value = str(value).replace("localhost:${KEYPORT_PORT:-8080}", f"localhost:{port}").replace("${KEYPORT_ADMIN_PASSWORD:-}", "compose-admin-pw-1")
        for inside, outside in paths.items():
            value = re.sub(rf"^{inside}(?=/|$)", outside, value)
        return value

    # The compose volumes: the sample realm mounted as the import folder.
    os.makedirs(f"{root}/data/import")
    for mount in keyport_spec["volumes"]:
        source, target = mount.split(":")[:2]
        if source.startswith("./"):
            shutil.copytree(REPO / source, local(target), dirs_exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPORT_")}
    env.update({k: local(v) for k, v in keyport_spec["environment"].items()})
    env.update({"KEYPORT_HTTP_HOST": "127.0.0.1", "KEYPORT_HTTP_PORT": str(port)})
    command = [local(arg) for arg in keyport_spec["command"]]
    log = open(f"{root}/keyport.log", "w")
    keyport = subprocess.Popen([keyport_binary(), *command], env=env, stdout=log, stderr=log, cwd=root)
    registry = None
    try:
        reg.wait_http(f"http://127.0.0.1:{port}/health/ready")
        assert subprocess.run([keyport_binary(), "health"], env=env).returncode == 0
        assert os.path.exists(f"{root}/certs/demo.pem"), open(f"{root}/keyport.log").read()

        # The registry: the compose file's environment over a minimal config.
        with open(f"{root}/registry.yml", "w") as f:
            f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}/registry\nhttp:\n  addr: 127.0.0.1:{registry_port}\n")
        registry_env = dict(os.environ, **{k: local(v) for k, v in registry_spec["environment"].items()})
        registry = subprocess.Popen([reg.need("docker-registry"), "serve", f"{root}/registry.yml"], env=registry_env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        reg.wait_http(f"http://127.0.0.1:{registry_port}/v2/")
        image = f"{root}/image"
        oci_image.write_layout(image, tag="v1")
        target = f"docker://127.0.0.1:{registry_port}/demo/hello:1"
        code, out = reg.run(reg.need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", "demo:demo-password-1", f"oci:{image}:v1", target)
        assert code == 0, out
        code, out = reg.run(reg.need("skopeo"), "inspect", "--tls-verify=false", "--creds", "viewer:viewer-password-1", target)
        assert code == 0, out
        code, out = reg.run(reg.need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", "viewer:viewer-password-1", f"oci:{image}:v1",
                            f"docker://127.0.0.1:{registry_port}/demo/hello:2")
        assert code != 0 and "denied" in out, out
    finally:
        if registry:
            registry.terminate()
            registry.wait(timeout=10)
        keyport.terminate()
        keyport.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
