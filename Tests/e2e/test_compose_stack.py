"""docker-compose.yml as a user runs it offline: `scripts/compose-images` builds the images here
(Debian's slim base made with debootstrap, Keyport's image from the project's Dockerfile fed the
binaries the suite built, a `registry:2` made from Debian's docker-registry), then
`docker-compose up` on free ports (KEYPORT_PORT, REGISTRY_PORT), and the Docker CLI logging in,
pushing and pulling through the stack, across a restart and a down/up."""
import base64
import io
import json
import os
import secrets
import subprocess
import tarfile
import time
import urllib.parse
import urllib.request

import pytest
import yaml

import containers
import test_registry as reg
from conftest import REPO

PROJECT = "kpcompose"
KEYPORT_IMAGE = "keyport:local"  # the compose file's image for its `build: .` service
KEYPORT_CONTAINER = f"{PROJECT}_keyport_1"


# The stack's published ports: free ones, never the defaults another server may hold.
KEYPORT_PORT = reg.free_port()
REGISTRY_PORT = reg.free_port()
PORTS = {"KEYPORT_PORT": str(KEYPORT_PORT), "REGISTRY_PORT": str(REGISTRY_PORT)}
REGISTRY = f"localhost:{REGISTRY_PORT}"


def tiny_image_tar():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = f"hello from the compose test {secrets.token_hex(4)}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def admin_token(password):
    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": password}).encode()
    return json.load(urllib.request.urlopen(f"http://localhost:{KEYPORT_PORT}/realms/master/protocol/openid-connect/token", data=form))["access_token"]


def admin_get(token, path):
    request = urllib.request.Request(f"http://localhost:{KEYPORT_PORT}/admin/realms/{path}", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))


@pytest.fixture(scope="module")
def engine():
    engine = containers.PrivateDockerd()
    try:
        # The images docker-compose.yml names, built here as the docs say (the suite's debug binaries).
        result = subprocess.run([str(REPO / "scripts" / "compose-images"), "debug"], env=dict(engine.env, DOCKER=containers.DOCKER),
                                capture_output=True, text=True, timeout=1800)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        yield engine
    finally:
        engine.stop()


def compose(engine, *args, env=None, timeout=600):
    environment = {k: v for k, v in engine.env.items() if not k.startswith("KEYPORT_")}
    environment.update(PORTS)
    environment.update(env or {})
    result = subprocess.run([reg.need("docker-compose"), "-p", PROJECT, "-f", str(REPO / "docker-compose.yml"), *args],
                            env=environment, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    return result.returncode, result.stdout + result.stderr


def wait_healthy(engine, deadline=120):
    end = time.time() + deadline
    status = ""
    while time.time() < end:
        code, status = engine.docker("inspect", "-f", "{{.State.Health.Status}}", KEYPORT_CONTAINER)
        if code == 0 and status.strip() == "healthy":
            return
        time.sleep(0.5)
    pytest.fail(f"keyport never became healthy ({status.strip()}): " + engine.docker("logs", KEYPORT_CONTAINER)[1][-3000:])


def test_compose_up_builds_runs_and_keeps_its_data(engine):
    started = time.time()
    size = int(engine.docker("image", "inspect", "-f", "{{.Size}}", KEYPORT_IMAGE)[1].strip())
    print(f"keyport image (debug binaries from this build, fed to the Dockerfile): {size / 1e6:.0f} MB")

    password = "compose-" + secrets.token_hex(8)
    env = {"KEYPORT_ADMIN_PASSWORD": password}
    code, out = compose(engine, "up", "-d", "--no-build", env=env)
    assert code == 0, out
    try:
        wait_healthy(engine)
        # Non-root, and the database only its owner can read.
        assert engine.docker("exec", KEYPORT_CONTAINER, "id", "-u")[1].strip() == "10001"
        assert engine.docker("exec", KEYPORT_CONTAINER, "stat", "-c", "%a", "/data/keyport.db")[1].strip() == "600"

        # The Docker CLI against the stack: login as demo, push, remove, pull; viewer may not push.
        hello = os.path.join(engine.root, "hello.tar")
        with open(hello, "wb") as f:
            f.write(tiny_image_tar())
        code, out = engine.docker("import", hello, f"{REGISTRY}/demo/hello:1")
        assert code == 0, out
        code, out = engine.docker("login", REGISTRY, "-u", "demo", "--password-stdin", input="demo-password-1")
        assert code == 0, out
        code, out = engine.docker("push", f"{REGISTRY}/demo/hello:1")
        assert code == 0, out
        assert engine.docker("rmi", f"{REGISTRY}/demo/hello:1")[0] == 0
        code, out = engine.docker("pull", f"{REGISTRY}/demo/hello:1")
        assert code == 0, out
        code, out = engine.docker("login", REGISTRY, "-u", "viewer", "--password-stdin", input="viewer-password-1")
        assert code == 0, out
        code, out = engine.docker("tag", f"{REGISTRY}/demo/hello:1", f"{REGISTRY}/demo/hello:viewer")
        code, out = engine.docker("push", f"{REGISTRY}/demo/hello:viewer")
        assert code != 0 and "denied" in out, out

        # What an administrator does survives a restart of Keyport...
        token = admin_token(password)
        request = urllib.request.Request(f"http://localhost:{KEYPORT_PORT}/admin/realms/demo/users", method="POST",
                                         data=json.dumps({"username": "kept", "enabled": True}).encode(),
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert urllib.request.urlopen(request).status == 201
        code, out = compose(engine, "restart", "keyport", env=env)
        assert code == 0, out
        wait_healthy(engine)
        assert [u["username"] for u in admin_get(admin_token(password), "demo/users?username=kept&exact=true")] == ["kept"]

        # ...and a down and up: the volumes stay, with the user and the pushed image.
        code, out = compose(engine, "down", env=env)
        assert code == 0, out
        code, out = compose(engine, "up", "-d", "--no-build", env=env)
        assert code == 0, out
        wait_healthy(engine)
        assert [u["username"] for u in admin_get(admin_token(password), "demo/users?username=kept&exact=true")] == ["kept"]
        assert engine.docker("rmi", f"{REGISTRY}/demo/hello:1", f"{REGISTRY}/demo/hello:viewer")[0] == 0
        code, out = engine.docker("login", REGISTRY, "-u", "demo", "--password-stdin", input="demo-password-1")
        assert code == 0, out
        code, out = engine.docker("pull", f"{REGISTRY}/demo/hello:1")
        assert code == 0, out

        # The logs: logfmt lines, and never the administrator's password given in the environment.
        code, logs = compose(engine, "logs", "--no-color", "keyport", env=env)
        assert code == 0 and 'msg="Keyport is ready"' in logs and "level=" in logs, logs[-2000:]
        assert password not in logs
    finally:
        compose(engine, "down", "-v", env=env)
    print(f"compose stack test: {time.time() - started:.0f} s (images, up, push, pull, restart, down/up)")


def test_without_an_admin_password_one_is_generated_and_printed_once(engine):
    """KEYPORT_ADMIN_PASSWORD unset: the compose file passes an empty value, and the first start
    generates a password and prints it once (docker compose logs keyport)."""
    code, out = compose(engine, "config")
    assert code == 0, out
    assert yaml.safe_load(out)["services"]["keyport"]["environment"]["KEYPORT_BOOTSTRAP_ADMIN_PASSWORD"] in ("", None)
    if engine.docker("image", "inspect", KEYPORT_IMAGE)[0] != 0:
        pytest.fail("the image test above did not build the image")
    code, container = engine.docker("run", "-d", "--network", "host", "-e", "KEYPORT_BOOTSTRAP_ADMIN_PASSWORD=",
                                    "-e", "KEYPORT_HTTP_PORT=0", "-e", "KEYPORT_HTTP_HOST=127.0.0.1", KEYPORT_IMAGE)
    assert code == 0, container
    try:
        deadline = time.time() + 60
        logs = ""
        while time.time() < deadline and "Keyport is ready" not in logs:
            logs = engine.docker("logs", container.strip())[1]
            time.sleep(0.3)
        assert "Generated password (shown only now): " in logs, logs[-2000:]
        assert logs.count("Generated password") == 1
    finally:
        engine.docker("rm", "-f", container.strip())


def test_the_legacy_builder_builds_the_dockerfile_without_host_binaries(engine):
    """docker-compose 1.x and DOCKER_BUILDKIT=0 build every stage of the Dockerfile, the
    host-binaries one too: it must build when .build/container does not exist (a user's clone)."""
    import shutil
    import tempfile
    context = tempfile.mkdtemp(prefix="kp-context-", dir="/tmp")
    try:
        for name in ("Dockerfile", ".dockerignore"):
            shutil.copy(REPO / name, os.path.join(context, name))
        env = dict(engine.env, DOCKER_BUILDKIT="0")
        result = subprocess.run([containers.DOCKER, "build", "--target", "prebuilt", "-t", "kp-prebuilt-empty", context],
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    finally:
        shutil.rmtree(context, ignore_errors=True)
