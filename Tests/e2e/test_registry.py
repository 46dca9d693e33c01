"""A real registry whose token realm is Keyport, driven by real clients: skopeo, podman and
docker (through dockerd). The realm is configured only through the admin API (with
python-keycloak), and the registry runs with the configuration and certificate bundle that
Keyport serves."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

import oci_image
from conftest import ADMIN_PASSWORD, REPO, Keyport, keyport_binary

SERVICE = "registry.test"
PASSWORD = "pw-Registry-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, env=None, input=None, timeout=120):
    """Runs a client; returns (exit code, everything it printed)."""
    result = subprocess.run(args, capture_output=True, text=True, env=env, input=input, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def wait_http(url, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # answering at all is enough (the registry answers /v2/ with 401)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def need(tool):
    path = shutil.which(tool)
    if not path:
        pytest.fail(f"{tool} is not installed: scripts/install-deps --test installs it")
    return path


class Setup:
    """Keyport + a realm configured through the admin API + docker-registry trusting it."""

    def __init__(self, root, port=None, hostname=None, env=None, imported=None):
        """`hostname` is the public URL (a TLS proxy's, when one is in front); `env` more settings.
        `imported`: (realm file, realm, docker client) — the realm comes from `keyport import` of
        that file before the server starts, instead of being set up through the admin API."""
        self.root = root
        self.realm, self.service = (imported[1], imported[2]) if imported else ("acme", SERVICE)
        if imported:
            run(keyport_binary(), "import", "--file", imported[0], "--db-path", os.path.join(root, "keyport.db"))
        port = port or free_port()
        self.keyport = Keyport(root, env={"KEYPORT_HOSTNAME": hostname or f"http://127.0.0.1:{port}", **(env or {})}, port=port)
        connection = KeycloakOpenIDConnection(server_url=self.keyport.url, username="admin", password=ADMIN_PASSWORD,
                                              realm_name="master", user_realm_name="master", client_id="admin-cli")
        self.admin = KeycloakAdmin(connection=connection)
        if imported:
            self.admin.change_current_realm(self.realm)
            self.client = self.admin.get_client_id(self.service)
            self.configure_registry()
            return
        self.admin.create_realm({"realm": "acme", "enabled": True, "dockerV2Enabled": True})
        self.admin.change_current_realm("acme")
        self.client = self.admin.create_client({"clientId": SERVICE, "protocol": "docker-v2"})
        grants = {
            "team-a-dev": ["repository:team-a/*:pull,push"],
            "team-a-reader": ["repository:team-a/*:pull"],
            "personal": ["repository:${username}/**:*"],
            "catalog": ["registry:catalog:*"],
        }
        for role, values in grants.items():
            self.admin.create_client_role(self.client, {"name": role, "attributes": {"docker.grant": values}})
        self.users = {}
        for name, roles, enabled in [("alice", ["team-a-dev", "personal"], True), ("rita", [], True), ("nora", [], True),
                                     ("dora", ["team-a-dev"], False), ("carl", ["catalog"], True)]:
            uid = self.admin.create_user({"username": name, "enabled": enabled,
                                          "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
            self.users[name] = uid
            if roles:
                self.admin.assign_client_role(uid, self.client, [self.admin.get_client_role(self.client, r) for r in roles])
        # Everyone in group "readers" can pull team-a.
        readers = self.admin.create_group({"name": "readers"})
        self.admin.assign_group_client_roles(readers, self.client, [self.admin.get_client_role(self.client, "team-a-reader")])
        self.admin.group_user_add(self.users["rita"], readers)
        self.configure_registry()

    def configure_registry(self):
        """docker-registry, configured with the file and bundle Keyport serves for the realm's client."""
        root = self.root
        base = f"clients/{self.client}/installation/providers"
        config = self.admin.connection.raw_get(f"admin/realms/{self.realm}/{base}/docker-v2-registry-config-file").text
        self.bundle_path = os.path.join(root, "bundle.pem")
        self.refresh_bundle()
        auth = "\n".join(line for line in config.splitlines() if not line.lstrip().startswith("#"))
        auth = auth.replace(next(l.split(": ", 1)[1] for l in auth.splitlines() if "rootcertbundle:" in l), self.bundle_path)
        self.registry_port = free_port()
        self.registry = f"127.0.0.1:{self.registry_port}"
        with open(os.path.join(root, "registry.yml"), "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {root}/storage\n"
                    f"  delete:\n    enabled: true\nhttp:\n  addr: {self.registry}\n{auth}\n")
        self.registry_log = open(os.path.join(root, "registry.log"), "w")
        self.start_registry()
        self.image = os.path.join(root, "image")
        oci_image.write_layout(self.image, tag="v1")

    def refresh_bundle(self):
        """Writes the bundle Keyport serves now to the file the registry reads (at its start)."""
        bundle = self.admin.connection.raw_get(f"admin/realms/{self.realm}/clients/{self.client}/installation/providers/docker-v2-cert-bundle").text
        assert "BEGIN CERTIFICATE" in bundle
        with open(self.bundle_path, "w") as f:
            f.write(bundle)
        return bundle

    def start_registry(self):
        self.registry_process = subprocess.Popen([need("docker-registry"), "serve", os.path.join(self.root, "registry.yml")],
                                                 stdout=self.registry_log, stderr=self.registry_log)
        wait_http(f"http://{self.registry}/v2/")

    def restart_registry(self):
        self.registry_process.terminate()
        self.registry_process.wait(timeout=10)
        self.start_registry()

    def set_client(self, **fields):
        representation = self.admin.get_client(self.client)
        representation.update(fields)
        self.admin.update_client(self.client, representation)

    def set_realm(self, **fields):
        self.admin.update_realm("acme", fields)

    def token(self, user, scope):
        credentials = base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(f"{self.keyport.url}/realms/{self.realm}/protocol/docker-v2/auth?service={self.service}&scope={scope}",
                                         headers={"Authorization": f"Basic {credentials}"})
        return json.load(urllib.request.urlopen(request))["token"]

    def events(self):
        return self.admin.connection.raw_get("admin/realms/acme/events", max=1000).json()

    def close(self):
        self.registry_process.terminate()
        self.registry_process.wait(timeout=10)
        self.keyport.stop()


@pytest.fixture(scope="module")
def setup():
    root = tempfile.mkdtemp(prefix="kp-reg-", dir="/tmp")
    s = Setup(root)
    yield s
    s.close()
    shutil.rmtree(root, ignore_errors=True)


def skopeo_push(setup, user, repository, password=PASSWORD):
    return run(need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", f"{user}:{password}",
               f"oci:{setup.image}:v1", f"docker://{setup.registry}/{repository}")


def skopeo_pull(setup, user, repository, password=PASSWORD):
    target = tempfile.mkdtemp(prefix="kp-pull-", dir="/tmp")
    try:
        return run(need("skopeo"), "copy", "--src-tls-verify=false", "--src-creds", f"{user}:{password}",
                   f"docker://{setup.registry}/{repository}", f"oci:{target}/out:v1")
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_push_and_pull_within_a_granted_namespace(setup):
    code, out = skopeo_push(setup, "alice", "team-a/hello:1")
    assert code == 0, out
    code, out = skopeo_pull(setup, "alice", "team-a/hello:1")
    assert code == 0, out


def test_pull_only_where_only_pull_is_granted(setup):
    assert skopeo_push(setup, "alice", "team-a/readonly:1")[0] == 0
    code, out = skopeo_pull(setup, "rita", "team-a/readonly:1")  # through group "readers"
    assert code == 0, out
    code, out = skopeo_push(setup, "rita", "team-a/readonly:2")
    assert code != 0
    assert "denied" in out, out


def test_nothing_at_all_where_nothing_is_granted(setup):
    assert skopeo_push(setup, "alice", "team-a/private:1")[0] == 0
    code, out = skopeo_pull(setup, "nora", "team-a/private:1")
    assert code != 0
    assert "denied" in out or "unauthorized" in out, out
    code, out = skopeo_push(setup, "nora", "nora-was-here/x:1")
    assert code != 0, out


def test_a_personal_namespace(setup):
    code, out = skopeo_push(setup, "alice", "alice/tools/hello:1")
    assert code == 0, out
    code, out = skopeo_pull(setup, "rita", "alice/tools/hello:1")
    assert code != 0, out
    code, out = skopeo_push(setup, "rita", "alice/tools/hello:2")
    assert code != 0, out


def test_the_catalog_only_with_its_grant(setup):
    assert skopeo_push(setup, "alice", "team-a/listed:1")[0] == 0
    request = urllib.request.Request(f"http://{setup.registry}/v2/_catalog",
                                     headers={"Authorization": "Bearer " + setup.token("carl", "registry:catalog:*")})
    catalog = json.load(urllib.request.urlopen(request))
    assert "team-a/listed" in catalog["repositories"]
    denied = urllib.request.Request(f"http://{setup.registry}/v2/_catalog",
                                    headers={"Authorization": "Bearer " + setup.token("alice", "registry:catalog:*")})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(denied)
    assert refused.value.code == 401


def test_allow_all_mode(setup):
    assert skopeo_push(setup, "nora", "anything/goes:1")[0] != 0
    setup.set_client(attributes={"docker.authorization": "allow-all"})
    try:
        code, out = skopeo_push(setup, "nora", "anything/goes:1")
        assert code == 0, out
    finally:
        setup.set_client(attributes={"docker.authorization": "roles"})
    assert skopeo_push(setup, "nora", "anything/goes:2")[0] != 0


def test_tokens_without_x5c_verify_by_kid_in_the_bundle(setup):
    """docker.token.x5c=false (for registry 3.x with a JWKS alone): registry 2.x, with the same
    bundle, finds the key by kid among the bundle's certificates; pushes keep working."""
    setup.set_client(attributes={"docker.authorization": "roles", "docker.token.x5c": "false"})
    try:
        token = setup.token("alice", "repository:team-a/plain:pull,push")
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        assert "x5c" not in header and header["kid"], header
        code, out = skopeo_push(setup, "alice", "team-a/plain:1")
        assert code == 0, out
    finally:
        setup.set_client(attributes={"docker.authorization": "roles"})


def test_failures_show_their_message_in_the_client(setup):
    code, out = skopeo_pull(setup, "alice", "team-a/hello:1", password="wrong")
    assert code != 0 and "Invalid username or password." in out, out
    code, out = skopeo_pull(setup, "dora", "team-a/hello:1")
    assert code != 0 and "Invalid username or password." in out, out

    # containers/image (skopeo, podman) prints only the status of a non-401 answer; the
    # Docker engine prints the message (see the docker test below).
    setup.set_client(enabled=False)
    try:
        code, out = skopeo_pull(setup, "alice", "team-a/hello:1")
        assert code != 0 and "400 (Bad Request)" in out, out
    finally:
        setup.set_client(enabled=True)

    setup.set_realm(dockerV2Enabled=False)
    try:
        code, out = skopeo_pull(setup, "alice", "team-a/hello:1")
        assert code != 0 and "404 (Not Found)" in out, out
    finally:
        setup.set_realm(dockerV2Enabled=True)
    assert skopeo_pull(setup, "alice", "team-a/hello:1")[0] == 0


def test_podman_login(setup):
    authfile = os.path.join(setup.root, "podman-auth.json")
    code, out = run(need("podman"), "login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "--password-stdin",
                    setup.registry, input=PASSWORD)
    assert code == 0 and "Login Succeeded" in out, out
    code, out = run(need("podman"), "login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "--password-stdin",
                    setup.registry, input="wrong")
    assert code != 0 and "invalid username/password" in out, out


@pytest.fixture(scope="module")
def dockerd(setup):
    """A real dockerd (vfs storage, no bridge), as reference §10 runs it."""
    root = tempfile.mkdtemp(prefix="kpd-", dir="/tmp")
    socket_path = os.path.join(root, "docker.sock")
    log = open(os.path.join(root, "dockerd.log"), "w")
    process = subprocess.Popen([need("dockerd"), "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
                                "--insecure-registry", setup.registry, "--data-root", os.path.join(root, "data"),
                                "--exec-root", os.path.join(root, "exec"), "--pidfile", os.path.join(root, "docker.pid"),
                                "-H", f"unix://{socket_path}"], stdout=log, stderr=log, start_new_session=True)
    docker = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else need("docker")
    env = dict(os.environ, DOCKER_HOST=f"unix://{socket_path}", DOCKER_CONFIG=os.path.join(root, "client"))
    deadline = time.time() + 60
    while run(docker, "version", env=env)[0] != 0:
        if time.time() > deadline or process.poll() is not None:
            log.flush()
            pytest.fail("dockerd did not start: " + open(os.path.join(root, "dockerd.log")).read()[-2000:])
        time.sleep(0.2)
    docker_cli = lambda *args, **kw: run(docker, *args, env=env, **kw)
    docker_cli.config_file = os.path.join(root, "client", "config.json")
    yield docker_cli
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


def test_docker_login_push_pull_and_a_cross_repository_mount(setup, dockerd):
    code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input=PASSWORD)
    assert code == 0 and "Login Succeeded" in out, out
    tarball = os.path.join(setup.root, "docker.tar")
    oci_image.write_tarball(tarball)
    image = f"{setup.registry}/team-a/viadocker:1"
    assert dockerd("import", tarball, image)[0] == 0
    code, out = dockerd("push", image)
    assert code == 0, out
    assert dockerd("rmi", image)[0] == 0
    code, out = dockerd("pull", image)
    assert code == 0, out

    # Pushing the same layer to another repository mounts it: one token for two scopes.
    copy = f"{setup.registry}/team-a/copy:1"
    assert dockerd("tag", image, copy)[0] == 0
    code, out = dockerd("push", copy)
    assert code == 0, out
    assert "Mounted from team-a/viadocker" in out, out
    requested = [e.get("details", {}).get("requested_access", "") for e in setup.events()]
    assert any("repository:team-a/copy:push,pull" in r and "repository:team-a/viadocker:pull" in r for r in requested), requested

    # Outside the namespace: refused, with the registry's words.
    other = f"{setup.registry}/team-b/x:1"
    assert dockerd("tag", image, other)[0] == 0
    code, out = dockerd("push", other)
    assert code != 0 and "denied" in out, out

    # Each failure reaches the person at the terminal in words.
    code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input="wrong")
    assert code != 0 and "unauthorized: Invalid username or password." in out, out
    code, out = dockerd("login", "-u", "dora", "--password-stdin", setup.registry, input=PASSWORD)
    assert code != 0 and "unauthorized: Invalid username or password." in out, out
    setup.set_client(enabled=False)
    try:
        code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input=PASSWORD)
        assert code != 0 and "denied: Client specified by 'service' is disabled" in out, out
    finally:
        setup.set_client(enabled=True)
    setup.set_realm(dockerV2Enabled=False)
    try:
        code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input=PASSWORD)
        assert code != 0 and "The docker-v2 protocol is not enabled for realm 'acme'" in out, out
    finally:
        setup.set_realm(dockerV2Enabled=True)
    code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input=PASSWORD)
    assert code == 0, out


def keyport_log(setup):
    with open(os.path.join(setup.root, "keyport.log")) as f:
        return f.read()


def docker_v2_requests(log, method):
    """The statuses Keyport logged for `method` requests to the docker-v2 endpoint."""
    return [line.split("status=")[1].split()[0] for line in log.splitlines()
            if 'msg=request' in line and "docker-v2/auth" in line and f"method={method}" in line]


def docker_image(setup, dockerd, repository, content):
    """A one-file image named `<registry>/<repository>` in dockerd's store (`docker import`)."""
    tarball = os.path.join(setup.root, repository.replace("/", "-").replace(":", "-") + ".tar")
    oci_image.write_tarball(tarball, content=content)
    image = f"{setup.registry}/{repository}"
    assert dockerd("import", tarball, image)[0] == 0
    return image


def docker_push_remove_pull(dockerd, image):
    code, out = dockerd("push", image)
    assert code == 0, out
    assert dockerd("rmi", image)[0] == 0
    code, out = dockerd("pull", image)
    assert code == 0, out


def test_docker_login_keeps_an_identity_token_and_never_the_password(setup, dockerd):
    """Reference §7: the engine stores the identity token instead of the password and asks
    for registry tokens with POST grant_type=refresh_token; revocation and a password reset
    cut it off, and the person at the terminal is told to log in again."""
    user = setup.admin.create_user({"username": "ida", "enabled": True,
                                    "credentials": [{"type": "password", "value": PASSWORD, "temporary": False}]})
    setup.admin.assign_client_role(user, setup.client, [setup.admin.get_client_role(setup.client, "team-a-dev")])
    posts_before = len(docker_v2_requests(keyport_log(setup), "POST"))

    code, out = dockerd("login", "-u", "ida", "--password-stdin", setup.registry, input=PASSWORD)
    assert code == 0 and "Login Succeeded" in out, out
    with open(dockerd.config_file) as f:
        text = f.read()
    entry = json.loads(text)["auths"][setup.registry]
    assert entry["identitytoken"].startswith("kpit_"), text
    assert base64.b64decode(entry["auth"]).decode() == "ida:", "the username only, with an empty password"
    assert PASSWORD not in text and base64.b64encode(PASSWORD.encode()).decode() not in text

    image = docker_image(setup, dockerd, "team-a/identity:1", b"pushed with an identity token\n")
    docker_push_remove_pull(dockerd, image)
    statuses = docker_v2_requests(keyport_log(setup), "POST")[posts_before:]
    assert statuses and set(statuses) == {"200"}, statuses

    # An administrator revokes the user's identity tokens for this registry.
    sessions = setup.admin.connection.raw_get(f"admin/realms/acme/users/{user}/offline-sessions/{setup.client}").json()
    assert len(sessions) == 1 and sessions[0]["username"] == "ida" and "kpit_" not in json.dumps(sessions)
    revoked = setup.admin.connection.raw_delete(f"admin/realms/acme/users/{user}/consents/{SERVICE}")
    assert revoked.status_code == 204, revoked.text
    code, out = dockerd("push", image)
    assert code != 0 and "unauthorized: The identity token is no longer valid" in out and "docker login" in out, out
    code, out = dockerd("login", "-u", "ida", "--password-stdin", setup.registry, input=PASSWORD)
    assert code == 0, out
    code, out = dockerd("push", image)
    assert code == 0, out

    # A password reset kills the token too.
    setup.admin.set_user_password(user, "pw-Changed-2", temporary=False)
    code, out = dockerd("push", image)
    assert code != 0 and "unauthorized: The identity token is no longer valid" in out and "docker login" in out, out
    code, out = dockerd("login", "-u", "ida", "--password-stdin", setup.registry, input="pw-Changed-2")
    assert code == 0, out
    code, out = dockerd("push", image)
    assert code == 0, out
    assert "405" not in docker_v2_requests(keyport_log(setup), "POST")


@pytest.fixture(scope="module")
def containerd():
    """A private containerd (no CRI), for `ctr`: the client that tries OAuth2's POST first."""
    root = tempfile.mkdtemp(prefix="kpc-", dir="/tmp")
    address = os.path.join(root, "containerd.sock")
    with open(os.path.join(root, "config.toml"), "w") as f:
        f.write(f'version = 2\nroot = "{root}/root"\nstate = "{root}/state"\n'
                f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "{address}"\n')
    log = open(os.path.join(root, "containerd.log"), "w")
    process = subprocess.Popen([need("containerd"), "--config", os.path.join(root, "config.toml")], stdout=log, stderr=log,
                               start_new_session=True)
    ctr = need("ctr")
    deadline = time.time() + 30
    while run(ctr, "-a", address, "version")[0] != 0:
        if time.time() > deadline or process.poll() is not None:
            pytest.fail("containerd did not start: " + open(os.path.join(root, "containerd.log")).read()[-2000:])
        time.sleep(0.2)
    yield lambda *args, **kw: run(ctr, "-a", address, "-n", "keyport", *args, **kw)
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)


def test_ctr_pushes_and_pulls_on_the_post_path(setup, containerd):
    layout = os.path.join(setup.root, "ctr-layout")
    oci_image.write_layout(layout, tag="v1", content=b"pushed by ctr\n")
    archive = os.path.join(setup.root, "ctr.tar")
    subprocess.run(["tar", "-C", layout, "-cf", archive, "."], check=True)
    name = f"{setup.registry}/team-a/ctr"
    code, out = containerd("images", "import", "--base-name", name, archive)
    assert code == 0, out
    log_before = keyport_log(setup)
    posts_before, gets_before = len(docker_v2_requests(log_before, "POST")), len(docker_v2_requests(log_before, "GET"))

    code, out = containerd("images", "push", "--plain-http", "--user", f"alice:{PASSWORD}", f"{name}:v1")
    assert code == 0, out
    assert containerd("images", "rm", f"{name}:v1")[0] == 0
    code, out = containerd("images", "pull", "--plain-http", "--user", f"alice:{PASSWORD}", f"{name}:v1")
    assert code == 0, out

    log = keyport_log(setup)
    posts = docker_v2_requests(log, "POST")[posts_before:]
    assert posts and set(posts) == {"200"}, posts
    assert len(docker_v2_requests(log, "GET")) == gets_before, "no fallback to GET"
    events = [e for e in setup.events() if e.get("details", {}).get("grant_type") == "password"]
    assert any("repository:team-a/ctr:" in e["details"].get("granted_access", "") for e in events), events

    # Outside alice's grants: refused by the registry, still on the POST path.
    other = f"{setup.registry}/team-b/ctr:v1"
    assert containerd("images", "tag", f"{name}:v1", other)[0] == 0
    code, out = containerd("images", "push", "--plain-http", "--user", f"alice:{PASSWORD}", other)
    assert code != 0, out
    assert "405" not in docker_v2_requests(keyport_log(setup), "POST")


KPADM = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".build", "debug", "kpadm")


def kpadm(setup, *args, input=None):
    """kpadm one-shot against the setup's Keyport, as a CI job would run it (password from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPADM_", "KEYPORT_"))}
    env.update({"HOME": setup.root, "KPADM_PASSWORD": ADMIN_PASSWORD})
    result = subprocess.run([KPADM, *args, "--server", setup.keyport.url, "--login-user", "admin", "--config", "/nonexistent"],
                            capture_output=True, text=True, env=env, input=input, timeout=60)
    return result.returncode, result.stdout, result.stderr


def skopeo_inspect(setup, repository, *creds):
    return run(need("skopeo"), "inspect", "--tls-verify=false", *creds, f"docker://{setup.registry}/{repository}")


def test_ci_pushes_with_a_personal_access_token(setup, dockerd):
    """A CI job: kpadm makes a token, docker login reads it from stdin, pushes within the token's
    grants only; revocation and expiry stop it; skopeo and podman take it as a password."""
    code, secret, err = kpadm(setup, "docker", "token", "create", "-r", "acme", "--service", SERVICE, "--user", "alice",
                              "--name", "ci", "--grant", "repository:team-a/ci-*:pull,push", "-q")
    secret = secret.strip()
    assert code == 0 and secret.startswith("kpat_") and "shown only now" in err, err
    code, out = dockerd("login", "-u", "alice", "--password-stdin", setup.registry, input=secret)
    assert code == 0 and "Login Succeeded" in out, out

    image = docker_image(setup, dockerd, "team-a/ci-app:1", b"built by CI\n")
    docker_push_remove_pull(dockerd, image)
    # alice may push anywhere under team-a; the token may not.
    outside = f"{setup.registry}/team-a/not-ci:1"
    assert dockerd("tag", image, outside)[0] == 0
    code, out = dockerd("push", outside)
    assert code != 0 and "denied" in out, out
    assert skopeo_push(setup, "alice", "team-a/not-ci:1")[0] == 0, "alice's password may"

    # skopeo and podman with the token as the password.
    code, out = skopeo_push(setup, "alice", "team-a/ci-skopeo:1", password=secret)
    assert code == 0, out
    code, out = skopeo_pull(setup, "alice", "team-a/ci-skopeo:1", password=secret)
    assert code == 0, out
    authfile = os.path.join(setup.root, "podman-pat.json")
    code, out = run(need("podman"), "login", "--tls-verify=false", "--authfile", authfile, "-u", "alice", "--password-stdin",
                    setup.registry, input=secret)
    assert code == 0 and "Login Succeeded" in out, out

    # The token listed (without its secret), then revoked: the next push is refused.
    code, out, _ = kpadm(setup, "docker", "token", "list", "-r", "acme", "--user", "alice")
    tokens = json.loads(out)
    assert code == 0 and [t["name"] for t in tokens] == ["ci"] and secret not in out and tokens[0]["lastUsedAt"] > 0, out
    # The registry's inventory lists it too, with its owner and last use, never the secret.
    code, out, err = kpadm(setup, "docker", "inventory", "-r", "acme", "--service", SERVICE)
    listed = json.loads(out)
    assert code == 0 and [(t["username"], t["name"]) for t in listed] == [("alice", "ci")] and secret not in out, out + err
    assert listed[0]["lastUsedAt"] > 0 and listed[0]["grants"] == ["repository:team-a/ci-*:pull,push"], out
    code, _, err = kpadm(setup, "docker", "token", "revoke", "-r", "acme", "--user", "alice", "--name", "ci")
    assert code == 0, err
    second = f"{setup.registry}/team-a/ci-app:2"
    assert dockerd("tag", image, second)[0] == 0
    code, out = dockerd("push", second)
    assert code != 0 and "unauthorized" in out, out
    assert dockerd("logout", setup.registry)[0] == 0

    # Bad tokens get the same answer as a wrong password.
    for bad in ["kpat_garbage", secret, secret[:-1]]:
        code, out = skopeo_pull(setup, "alice", "team-a/ci-skopeo:1", password=bad)
        assert code != 0 and "Invalid username or password." in out, out

    # A short-lived token works, then stops by itself.
    code, short, err = kpadm(setup, "docker", "token", "create", "-r", "acme", "--service", SERVICE, "--user", "alice",
                             "--name", "short", "--expires", "3s", "-q")
    short = short.strip()
    assert code == 0, err
    assert skopeo_pull(setup, "alice", "team-a/ci-skopeo:1", password=short)[0] == 0
    deadline = time.time() + 15
    while skopeo_pull(setup, "alice", "team-a/ci-skopeo:1", password=short)[0] == 0:
        assert time.time() < deadline, "the token outlived its expiry"
        time.sleep(0.5)
    expired = [e for e in setup.events() if e.get("error") == "expired_token"]
    assert expired and expired[0]["details"]["credential_type"] == "personal-access-token", expired

    # A token whose owner lost the role grants nothing more.
    code, out, err = kpadm(setup, "docker", "token", "create", "-r", "acme", "--service", SERVICE, "--user", "rita", "--name", "r", "-q")
    assert code == 0, err
    assert skopeo_pull(setup, "rita", "team-a/ci-skopeo:1", password=out.strip())[0] == 0
    readers = setup.admin.get_group_by_path("/readers")["id"]
    setup.admin.group_user_remove(setup.users["rita"], readers)
    try:
        code, denied = skopeo_pull(setup, "rita", "team-a/ci-skopeo:1", password=out.strip())
        assert code != 0, denied
    finally:
        setup.admin.group_user_add(setup.users["rita"], readers)


def test_a_robot_logs_in_with_its_client_id_and_secret(setup, dockerd):
    robot = setup.admin.create_client({"clientId": "ci-robot", "publicClient": False, "serviceAccountsEnabled": True})
    secret = setup.admin.get_client_secrets(robot)["value"]
    # As docs/ci-credentials.md does it: the service account found by its username.
    code, _, err = kpadm(setup, "add-roles", "-r", "acme", "--uusername", "service-account-ci-robot", "--cclientid", SERVICE,
                         "--rolename", "team-a-dev")
    assert code == 0, err

    code, out = dockerd("login", "-u", "ci-robot", "--password-stdin", setup.registry, input=secret)
    assert code == 0 and "Login Succeeded" in out, out
    image = docker_image(setup, dockerd, "team-a/robot:1", b"pushed by a robot\n")
    code, out = dockerd("push", image)
    assert code == 0, out
    assert dockerd("logout", setup.registry)[0] == 0
    code, out = dockerd("login", "-u", "ci-robot", "--password-stdin", setup.registry, input="wrong-secret")
    assert code != 0 and "Invalid username or password." in out, out
    # A robot's own token, made by its clientId.
    code, token, err = kpadm(setup, "docker", "token", "create", "-r", "acme", "--service", SERVICE, "--user", "ci-robot",
                             "--name", "deploy", "-q")
    assert code == 0, err
    code, out = skopeo_pull(setup, "ci-robot", "team-a/robot:1", password=token.strip())
    assert code == 0, out


def test_anonymous_pulls_of_a_public_repository(setup, dockerd):
    publisher = setup.admin.create_client_role(setup.client, {"name": "public-publisher",
                                                              "attributes": {"docker.grant": ["repository:public/**:pull,push"]}})
    del publisher
    setup.admin.assign_client_role(setup.users["alice"], setup.client, [setup.admin.get_client_role(setup.client, "public-publisher")])
    assert skopeo_push(setup, "alice", "public/hello:1")[0] == 0
    assert skopeo_push(setup, "alice", "team-a/secret:1")[0] == 0

    code, out = skopeo_inspect(setup, "public/hello:1", "--no-creds")
    assert code != 0, "no anonymous access until the client allows it"
    code, _, err = kpadm(setup, "docker", "client", "anonymous", "-r", "acme", "--service", SERVICE, "--grant", "repository:public/**:pull")
    assert code == 0, err
    try:
        code, out = skopeo_inspect(setup, "public/hello:1", "--no-creds")
        assert code == 0, out
        code, out = skopeo_inspect(setup, "team-a/secret:1", "--no-creds")
        assert code != 0, out
        code, out = run(need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-no-creds", f"oci:{setup.image}:v1",
                        f"docker://{setup.registry}/public/vandal:1")
        assert code != 0, "anonymous push is denied: " + out

        dockerd("logout", setup.registry)
        image = f"{setup.registry}/public/hello:1"
        code, out = dockerd("pull", image)
        assert code == 0, out
        vandal = docker_image(setup, dockerd, "public/vandal:2", b"vandal\n")
        code, out = dockerd("push", vandal)
        assert code != 0, out
        suppressed = urllib.request.urlopen(f"{setup.keyport.url}/metrics").read().decode()
        assert 'keyport_events_suppressed_total{reason="anonymous"}' in suppressed
    finally:
        code, _, err = kpadm(setup, "docker", "client", "anonymous", "-r", "acme", "--service", SERVICE, "--none")
        assert code == 0, err
    code, out = skopeo_inspect(setup, "public/hello:1", "--no-creds")
    assert code != 0, out


def test_keys_rotate_without_locking_pushes_out():
    """kpadm keys rotate's three steps against a real registry, which reads its bundle only at
    start: every push works at every step, tokens signed by the old key verify until it is
    retired and the registry restarted, and not after."""
    root = tempfile.mkdtemp(prefix="kp-rotate-", dir="/tmp")
    s = Setup(root)
    try:
        def v2(token):
            request = urllib.request.Request(f"http://{s.registry}/v2/", headers={"Authorization": f"Bearer {token}"})
            try:
                return urllib.request.urlopen(request).status
            except urllib.error.HTTPError as error:
                return error.code

        def kid(token):
            return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]

        def rotate(*extra):
            code, out, err = kpadm(s, "keys", "rotate", "-r", "acme", *extra)
            assert code == 0, out + err
            return err

        def push(tag):
            code, out = skopeo_push(s, "alice", f"team-a/rotated:{tag}")
            assert code == 0, out

        old_token = s.token("alice", "repository:team-a/rotated:pull")
        push("before")
        assert "Added RS256 key" in rotate()  # 1. passive: in Keyport's bundle, signing nothing
        push("added")
        assert s.refresh_bundle().count("BEGIN CERTIFICATE") == 3
        s.restart_registry()
        push("registry-restarted")
        assert "signs now" in rotate()  # 2. the new key signs, the old one verifies
        new_token = s.token("alice", "repository:team-a/rotated:push,pull")
        assert kid(new_token) != kid(old_token)
        push("activated")
        assert v2(old_token) == 200 and v2(new_token) == 200
        assert "Disabled RS256 key" in rotate("--retire")  # 3. after the longest token lifetime
        push("retired")
        assert s.refresh_bundle().count("BEGIN CERTIFICATE") == 2
        s.restart_registry()
        push("registry-restarted-again")
        assert v2(old_token) == 401, "a token of the retired key still opens the registry"
        assert v2(new_token) == 200
        code, out, err = kpadm(s, "keys", "list", "-r", "acme")
        assert code == 0, err
        keys = json.loads(out)
        assert [k["status"] for k in keys if k["algorithm"] == "RS256" and k["signs"]] == ["ACTIVE"]
        assert sorted(k["status"] for k in keys if k["algorithm"] == "RS256") == ["ACTIVE", "DISABLED"]
    finally:
        s.close()
        shutil.rmtree(root, ignore_errors=True)


def test_a_registry_realm_exported_from_keycloak_keeps_pushing():
    """The migration docs/keycloak-compatibility.md describes, for real: a default `kc.sh export` of
    a registry realm (docker-v2 client with Keycloak's allow-all mapper, users with Keycloak's
    PBKDF2 hashes) goes through `keyport import`, the registry is pointed at Keyport's bundle, and
    its users push and pull as they did — `kpadm docker access` says why."""
    root = tempfile.mkdtemp(prefix="kp-migrated-", dir="/tmp")
    export = str(REPO / "Tests" / "Vectors" / "keycloak-registry-realm-export.json")
    s = Setup(root, imported=(export, "registry", "registry.example.com"))
    try:
        for user in ("ci", "dev"):
            code, out = skopeo_push(s, user, f"apps/{user}:1", password="Secret-pw-1")
            assert code == 0, out
            code, out = skopeo_pull(s, user, f"apps/{user}:1", password="Secret-pw-1")
            assert code == 0, out
        assert skopeo_push(s, "ci", "apps/ci:2", password="wrong-password")[0] != 0
        code, out, err = kpadm(s, "docker", "access", "-r", "registry", "--service", "registry.example.com",
                               "--user", "ci", "repository:apps/ci:push")
        assert code == 0, out + err
        access = json.loads(out)
        assert access["authorization"] == "allow-all" and access["canLogIn"], access
        assert access["access"][0]["actions"] == ["push"], access
    finally:
        s.close()
        shutil.rmtree(root, ignore_errors=True)


def doctor(setup, *args):
    return kpadm(setup, "docker", "doctor", "-r", setup.realm, "--service", setup.service, *args)


def test_the_doctor_finds_nothing_wrong_with_a_registry_configured_from_keyport(setup):
    code, out, err = doctor(setup, "--registry-config", os.path.join(setup.root, "registry.yml"), "--registry-url", f"http://{setup.registry}")
    assert code == 0, out + err
    assert "problem" not in out and "No problem found between realm acme and the registry" in err, out + err
    # The fingerprint is the one openssl prints for the bundle's active certificate.
    comment, pem = next((c, p) for c, p in re.findall(r"# (RS256 active kid \S+)\n(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)",
                                                    open(setup.bundle_path).read(), re.S))
    openssl = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem, capture_output=True, text=True, check=True).stdout
    fingerprint = openssl.strip().split("=", 1)[1]
    assert f"holds realm acme's active RS256 key (kid {comment.split()[-1]}, SHA-256 {fingerprint})" in out, out
    assert f"asks for tokens of service {SERVICE} from {setup.keyport.url}/realms/acme/protocol/docker-v2/auth" in out, out
    assert "[clock] the registry's and Keyport's clocks agree" in out, out


def test_the_doctor_names_the_side_of_each_mistake_a_newcomer_made(setup):
    """A real registry with what the newcomer had: the other docs' service name, an issuer with
    another host name, a bundle of another realm's key, and a realm URL of another realm (an
    older setup still on the port). The client only says "authentication required" or "Invalid
    username or password"; the doctor names each mistake and its side."""
    root = tempfile.mkdtemp(prefix="kp-doctor-", dir="/tmp")
    stranger = os.path.join(root, "stranger.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=another realm", "-days", "1",
                    "-keyout", os.path.join(root, "stranger.key"), "-out", stranger], capture_output=True, check=True)
    port = free_port()
    url = setup.keyport.url
    config = open(os.path.join(setup.root, "registry.yml")).read()
    broken = os.path.join(root, "config.yml")
    with open(broken, "w") as f:
        f.write(config.replace(f"service: {SERVICE}", "service: registry.acme.io")
                .replace(f"issuer: {url}/realms/acme", f"issuer: {url.replace('127.0.0.1', 'localhost')}/realms/acme")
                .replace(f"realm: {url}/realms/acme/", f"realm: {url}/realms/demo/")
                .replace(setup.bundle_path, stranger).replace(setup.registry, f"127.0.0.1:{port}")
                .replace(f"{setup.root}/storage", f"{root}/storage"))
    log = open(os.path.join(root, "registry.log"), "w")
    registry = subprocess.Popen([need("docker-registry"), "serve", broken], stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{port}/v2/")
        code, out = run(need("skopeo"), "inspect", "--tls-verify=false", "--creds", f"alice:{PASSWORD}", f"docker://127.0.0.1:{port}/team-a/app:v1")
        assert code != 0, out
        code, out, err = doctor(setup, "--registry-config", broken, "--registry-url", f"http://127.0.0.1:{port}")
        assert code == 1, out + err
        problems = [line for line in out.splitlines() if line.startswith("problem")]
        endpoint = f"{url}/realms/acme/protocol/docker-v2/auth"
        demo = f"{url}/realms/demo/protocol/docker-v2/auth"
        assert problems == [
            f"problem [registry] {broken}: service is 'registry.acme.io', but the docker-v2 client is '{SERVICE}': tokens name {SERVICE} as their audience and the registry refuses them (its log: token intended for another audience) — set service: {SERVICE}",
            f"problem [registry] {broken}: realm is '{demo}', but realm acme's token endpoint is {endpoint}: clients are sent elsewhere for tokens — set realm: {endpoint}",
            f"problem [registry] {broken}: issuer is '{url.replace('127.0.0.1', 'localhost')}/realms/acme', but Keyport signs realm acme's tokens with iss '{url}/realms/acme': the registry refuses every token (its log: token from untrusted issuer) — set issuer: {url}/realms/acme",
            problems[3],
            f"problem [registry] the registry at http://127.0.0.1:{port} names service 'registry.acme.io' in its challenge, but the docker-v2 client is '{SERVICE}': clients ask Keyport for tokens of another service — set its service: {SERVICE} and restart it",
            f"problem [registry] the registry at http://127.0.0.1:{port} sends clients to {demo} for tokens, not to realm acme's token endpoint {endpoint}: a right password then fails there with \"Invalid username or password\" (is an older registry on that port?) — set its realm: {endpoint}",
            f"problem [keyport] the token realm {demo} refuses service {SERVICE} with HTTP 404: Realm 'demo' does not exist",
        ], out
        assert problems[3].startswith(f"problem [registry] rootcertbundle {stranger} does not hold realm acme's active RS256 key"), problems[3]
        assert "7 problem(s)" in err and "docs/troubleshooting.md" in err, err
    finally:
        registry.terminate()
        registry.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def test_the_registry_reports_who_pushed_what_with_which_credential(dockerd):
    """The registry's notifications are Keyport's audit trail: after pushes by a password, a
    personal access token, an identity token (docker login) and a service account — alice uses
    the first three a few seconds apart — `kpadm docker events` names each push's actor and the
    credential behind its token."""
    root = tempfile.mkdtemp(prefix="kp-audit-", dir="/tmp")
    s = Setup(root)
    try:
        section = os.path.join(root, "notifications.yml")
        code, _, err = kpadm(s, "docker", "notifications", "enable", "-r", "acme", "--service", SERVICE, "-o", section)
        assert code == 0, err
        assert oct(os.stat(section).st_mode & 0o777) == "0o600"
        with open(os.path.join(root, "registry.yml"), "a") as config, open(section) as added:
            config.write(added.read())
        s.restart_registry()

        code, out = skopeo_push(s, "alice", "team-a/audit:password")
        assert code == 0, out
        code, pat, err = kpadm(s, "docker", "token", "create", "-r", "acme", "--service", SERVICE, "--user", "alice", "--name", "audit", "-q")
        assert code == 0, err
        code, out = skopeo_push(s, "alice", "team-a/audit:pat", password=pat.strip())
        assert code == 0, out
        code, out = dockerd("login", "-u", "alice", "--password-stdin", s.registry, input=PASSWORD)
        assert code == 0, out
        image = docker_image(s, dockerd, "team-a/audit:identity", b"pushed with docker's identity token\n")
        code, out = dockerd("push", image)
        assert code == 0, out
        assert dockerd("logout", s.registry)[0] == 0
        robot = s.admin.create_client({"clientId": "audit-robot", "publicClient": False, "serviceAccountsEnabled": True})
        robot_secret = s.admin.get_client_secrets(robot)["value"]
        code, _, err = kpadm(s, "add-roles", "-r", "acme", "--uusername", "service-account-audit-robot", "--cclientid", SERVICE,
                             "--rolename", "team-a-dev")
        assert code == 0, err
        code, out = skopeo_push(s, "audit-robot", "team-a/audit:robot", password=robot_secret)
        assert code == 0, out

        # distribution delivers from a queue, after the requests: wait for the four manifests.
        deadline = time.time() + 60
        while True:
            code, out, err = kpadm(s, "docker", "events", "-r", "acme", "--repository", "team-a/audit", "--action", "push", "--format", "json")
            assert code == 0, err
            manifests = {e["tag"]: e for e in json.loads(out) if e.get("tag")}
            if len(manifests) == 4 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert sorted(manifests) == ["identity", "password", "pat", "robot"], out
        code, tokens, err = kpadm(s, "docker", "token", "list", "-r", "acme", "--user", "alice")
        pat_id = next(t["id"] for t in json.loads(tokens) if t["name"] == "audit")
        code, sessions, err = kpadm(s, "docker", "sessions", "list", "-r", "acme", "--service", SERVICE, "--user", "alice")
        identity_id = json.loads(sessions)[0]["id"]
        expected = {"password": ("alice", {"kind": "password", "inferred": True}),
                    "pat": ("alice", {"kind": "personal-access-token", "id": pat_id, "inferred": True}),
                    "identity": ("alice", {"kind": "identity-token", "id": identity_id, "inferred": True}),
                    "robot": ("service-account-audit-robot", {"kind": "client-secret", "inferred": True})}
        for tag, (actor, credential) in expected.items():
            event = manifests[tag]
            assert (event["actor"], event["credential"]) == (actor, credential), (tag, event)
            assert event["reportedBy"] == "registry" and event["digest"].startswith("sha256:") and event["ipAddress"] == "127.0.0.1" and event["sourceAddress"].startswith("127.0.0.1:"), event

        # One line per event, as an operator reads them.
        code, out, err = kpadm(s, "docker", "events", "-r", "acme", "--repository", "team-a/audit", "--action", "push")
        assert code == 0, err
        line = next(l for l in out.splitlines() if "team-a/audit:pat" in l)
        assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z  push    alice  team-a/audit:pat  sha256:\w{12}  127\.0\.0\.1:\d+  "
                        rf"personal-access-token {pat_id} \(inferred\)$", line), line
        code, out, err = kpadm(s, "docker", "events", "-r", "acme", "--actor", "service-account-audit-robot", "--format", "csv")
        assert code == 0 and out.startswith("time,action,client,actor,") and "team-a/audit" in out, out + err
        # Pulls are reported too.
        code, out = skopeo_pull(s, "alice", "team-a/audit:password")
        assert code == 0, out
        deadline = time.time() + 60
        while time.time() < deadline:
            pulls = json.loads(kpadm(s, "docker", "events", "-r", "acme", "--action", "pull", "--format", "json")[1])
            if pulls:
                break
            time.sleep(0.5)
        assert pulls and pulls[0]["actor"] == "alice" and pulls[0]["credential"]["kind"] == "password", pulls

        # The whole auth file with the section, in one command: a new secret, the file private.
        whole = os.path.join(root, "registry-auth.yml")
        code, _, err = kpadm(s, "docker", "config", "-r", "acme", "--service", SERVICE, "--format", "registry-config", "--notifications", "-o", whole)
        assert code == 0 and "new notification secret" in err, err
        text = open(whole).read()
        assert oct(os.stat(whole).st_mode & 0o777) == "0o600"
        assert "auth:\n  token:" in text and "notifications:\n  endpoints:" in text and "Authorization: [Bearer kpn_" in text, text
        assert open(section).read().split("Bearer ")[1].split("]")[0] not in text, "the secret is a new one"
    finally:
        s.close()
        shutil.rmtree(root, ignore_errors=True)


class CIIssuer:
    """What GitHub Actions is to a job: an OIDC issuer whose JWKS is served over HTTP and whose
    ID tokens (RS256, GitHub's claims) name the repository, ref and run."""

    ISSUER = "https://token.actions.githubusercontent.example"

    def __init__(self):
        import http.server
        import threading
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        jwks = json.dumps({"keys": [{"kty": "RSA", "kid": "gh-1", "use": "sig", "alg": "RS256",
                                     "n": self.b64(numbers.n.to_bytes(256, "big")), "e": self.b64(numbers.e.to_bytes(3, "big"))}]}).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/.well-known/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks"

    @staticmethod
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    def token(self, audience, sub="repo:acme/app:ref:refs/heads/main", repository_id=42, lifetime=600):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        claims = {"iss": self.ISSUER, "aud": audience, "sub": sub, "iat": now, "nbf": now, "exp": now + lifetime,
                  "jti": base64.b16encode(os.urandom(8)).decode(), "repository": "acme/app", "repository_id": repository_id,
                  "repository_owner_id": 7, "ref": "refs/heads/main", "run_id": "4242", "workflow": "release"}
        signing_input = self.b64(json.dumps({"alg": "RS256", "kid": "gh-1", "typ": "JWT"}).encode()) + "." + self.b64(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + self.b64(signature)

    def close(self):
        self.server.shutdown()


def test_a_ci_job_pushes_with_its_own_jwt_and_no_stored_secret(setup, dockerd):
    """Issue 30's CI half with real clients: an identity provider and a federated-jwt client made
    with python-keycloak, a GitHub-shaped ID token as the password of skopeo, podman and docker login,
    Keycloak's client_credentials with a client assertion, and the event naming the run."""
    ci = CIIssuer()
    try:
        setup.admin.create_idp({"alias": "github", "providerId": "oidc", "enabled": True,
                                "config": {"issuer": CIIssuer.ISSUER, "jwksUrl": ci.jwks_url, "useJwksUrl": "true",
                                           "supportsClientAssertions": "true"}})
        assert [p["alias"] for p in setup.admin.get_idps()] == ["github"]
        setup.admin.create_client({"clientId": "ci-pusher", "publicClient": False, "serviceAccountsEnabled": True,
                                   "clientAuthenticatorType": "federated-jwt",
                                   "attributes": {"jwt.credential.issuer": "github", "jwt.credential.sub": "repo:acme/app:ref:refs/heads/main",
                                                  "keyport.jwt.credential.claims": json.dumps({"repository_id": "42", "repository_owner_id": "7"})}})
        code, _, err = kpadm(setup, "add-roles", "-r", "acme", "--uusername", "service-account-ci-pusher", "--cclientid", SERVICE,
                             "--rolename", "team-a-dev")
        assert code == 0, err
        audience = f"{setup.keyport.hostname}/realms/acme"

        # skopeo, with the job's token as the password: pushed.
        code, out = skopeo_push(setup, "ci-pusher", "team-a/federated:1", password=ci.token(audience))
        assert code == 0, out
        # podman login with it: the same door.
        authfile = os.path.join(setup.root, "podman-ci-auth.json")
        code, out = run(need("podman"), "login", "--tls-verify=false", "--authfile", authfile, "-u", "ci-pusher", "--password-stdin",
                        setup.registry, input=ci.token(audience))
        assert code == 0 and "Login Succeeded" in out, out
        # docker login with it, then a push: docker keeps the JWT (no identity token for a JWT).
        code, out = dockerd("login", "-u", "ci-pusher", "--password-stdin", setup.registry, input=ci.token(audience))
        assert code == 0 and "Login Succeeded" in out, out
        entry = json.load(open(dockerd.config_file))["auths"][setup.registry]
        assert "identitytoken" not in entry and base64.b64decode(entry["auth"]).decode().startswith("ci-pusher:eyJ"), entry
        image = docker_image(setup, dockerd, "team-a/federated:2", b"pushed by a CI job\n")
        code, out = dockerd("push", image)
        assert code == 0, out
        assert dockerd("logout", setup.registry)[0] == 0

        # Another repository's job (a fork, a renamed repository): refused, and it says why.
        code, out = skopeo_push(setup, "ci-pusher", "team-a/federated:3", password=ci.token(audience, repository_id=666))
        assert code != 0, out
        code, out = skopeo_push(setup, "ci-pusher", "team-a/federated:3", password=ci.token(audience, sub="repo:evil/app:ref:refs/heads/main"))
        assert code != 0, out
        code, out = skopeo_push(setup, "ci-pusher", "team-a/federated:3", password=ci.token("https://elsewhere.example/realms/acme"))
        assert code != 0, out

        # Keycloak's door: client_credentials with the token as a client assertion, each once.
        assertion = ci.token(audience)
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_assertion": assertion,
                                       "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}).encode()
        token_url = f"{setup.keyport.url}/realms/acme/protocol/openid-connect/token"
        answer = json.load(urllib.request.urlopen(urllib.request.Request(token_url, data=form)))
        assert answer["access_token"] and "refresh_token" not in answer, answer
        with pytest.raises(urllib.error.HTTPError) as again:
            urllib.request.urlopen(urllib.request.Request(token_url, data=form))
        assert again.value.code == 401 and json.load(again.value)["error_description"] == "Token reuse detected"

        # The events say which job pushed.
        logins = [e for e in setup.events() if e.get("type") == "LOGIN" and e.get("details", {}).get("credential_type") == "federated-jwt"]
        assert logins and logins[0]["details"]["federated_claim.run_id"] == "4242", logins[:1]
        assert logins[0]["details"]["federated_subject"] == "repo:acme/app:ref:refs/heads/main"
        failures = [e for e in setup.events() if e.get("type") == "LOGIN_ERROR" and e.get("details", {}).get("credential_type") == "federated-jwt"]
        assert any("repository_id" in e["details"].get("reason", "") for e in failures), failures[:3]
    finally:
        ci.close()
