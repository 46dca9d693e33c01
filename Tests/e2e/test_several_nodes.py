"""Several Keyport nodes on one PostgreSQL (issue: past one machine): every node answers every
request, and a change made on one is honoured by all of them on the very next request."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

import oci_image
import test_registry as reg
from conftest import ADMIN_PASSWORD, REPO, Keyport, keyport_binary


@pytest.fixture(scope="module")
def postgres_url():
    """The suite's PostgreSQL (scripts/test starts one), or a throwaway cluster of our own."""
    url = os.environ.get("KEYPORT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    started = subprocess.run([str(REPO / "scripts" / "postgres-throwaway"), "start"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.fail("could not start PostgreSQL (scripts/install-deps --test installs it): " + started.stderr)
    env = dict(line.replace("export ", "", 1).split("=", 1) for line in started.stdout.splitlines())
    os.environ["KEYPORT_TEST_POSTGRES_CA"] = env["KEYPORT_TEST_POSTGRES_CA"].strip("'")
    yield env["KEYPORT_TEST_POSTGRES_URL"].strip("'")
    subprocess.run([str(REPO / "scripts" / "postgres-throwaway"), "stop", env["KEYPORT_TEST_POSTGRES_DIR"].strip("'")])


class RoundRobin:
    """A TCP proxy in front of the nodes, each new connection to the next node: what a load
    balancer does, without one to install."""

    def __init__(self, ports):
        self.ports, self.next = ports, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            port = self.ports[self.next % len(self.ports)]
            self.next += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", port))
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


class Cluster:
    """Three keyport processes sharing one database schema, started at the same moment on an
    empty database, behind one public hostname."""

    def __init__(self, postgres_url, count=3):
        self.root = tempfile.mkdtemp(prefix="kp-nodes-", dir="/tmp")
        schema = "e2e_" + uuid.uuid4().hex[:12]
        separator = "&" if "?" in postgres_url else "?"
        self.proxy = RoundRobin([])
        self.hostname = f"http://127.0.0.1:{self.proxy.port}"
        self.env = {"KEYPORT_DB": "postgres", "KEYPORT_DB_URL": f"{postgres_url}{separator}currentSchema={schema}",
                    "KEYPORT_DB_POOL_MAX_SIZE": "5", "KEYPORT_HOSTNAME": self.hostname}
        self.nodes = [None] * count
        errors = []

        def start(i):
            directory = os.path.join(self.root, f"node{i}")
            os.makedirs(directory)
            try:
                self.nodes[i] = Keyport(directory, env=self.env)
            except Exception as error:  # noqa: BLE001 — reported below
                errors.append(error)

        threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise errors[0]
        self.proxy.ports = [n.port for n in self.nodes]

    def url(self, i):
        return self.nodes[i].url

    def close(self):
        self.proxy.close()
        for node in self.nodes:
            if node:
                node.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def call(base, method, path, token=None, body=None, form=None, basic=None):
    headers = {}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text), response.headers
    except urllib.error.HTTPError as error:
        text = error.read().decode()
        return error.code, (json.loads(text) if text.strip().startswith(("{", "[")) else text), error.headers


def login(base, realm, user, password, client="admin-cli"):
    return call(base, "POST", f"/realms/{realm}/protocol/openid-connect/token",
                form={"grant_type": "password", "client_id": client, "username": user, "password": password})


def admin_token(base):
    status, body, _ = login(base, "master", "admin", ADMIN_PASSWORD)
    assert status == 200, body
    return body["access_token"]


@pytest.fixture
def cluster(postgres_url):
    c = Cluster(postgres_url)
    yield c
    c.close()


def test_three_nodes_one_truth(cluster):
    a, b, c = (cluster.url(i) for i in range(3))
    # Started together on an empty database: one made the master realm, all answer.
    for base in (a, b, c):
        assert call(base, "GET", "/health/ready")[0] == 200
    token = admin_token(a)
    assert call(b, "POST", "/admin/realms", token=token, body={"realm": "acme", "enabled": True, "dockerV2Enabled": True})[0] == 201
    status, _, headers = call(c, "POST", "/admin/realms/acme/clients", token=token, body={"clientId": "registry.test", "protocol": "docker-v2"})
    assert status == 201
    client_uuid = headers["Location"].rsplit("/", 1)[1]
    assert call(a, "POST", f"/admin/realms/acme/clients/{client_uuid}/roles", token=token,
                body={"name": "pusher", "attributes": {"docker.grant": ["repository:team/*:pull,push"]}})[0] == 201

    # A user created on A logs in on B at once.
    status, _, headers = call(a, "POST", "/admin/realms/acme/users", token=token, body={
        "username": "alice", "enabled": True, "credentials": [{"type": "password", "value": "Alice-pw-1"}]})
    assert status == 201
    alice = headers["Location"].rsplit("/", 1)[1]
    assert login(b, "acme", "alice", "Alice-pw-1")[0] == 200

    # A role granted on B is in the next token on C; removed on A, it is gone from the next on B.
    pusher = call(b, "GET", f"/admin/realms/acme/clients/{client_uuid}/roles/pusher", token=token)[1]
    assert call(b, "POST", f"/admin/realms/acme/users/{alice}/role-mappings/clients/{client_uuid}", token=token, body=[pusher])[0] == 204

    def docker_actions(base, password="Alice-pw-1"):
        status, body, _ = call(base, "GET", "/realms/acme/protocol/docker-v2/auth?service=registry.test&scope=repository:team/app:pull,push",
                               basic=f"alice:{password}")
        if status != 200:
            return status
        claims = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[1] + "=="))
        return sorted(claims["access"][0]["actions"]) if claims["access"] else []

    for base in (c, c, a, b):  # warm every node's caches
        assert docker_actions(base) == ["pull", "push"]
    assert call(a, "DELETE", f"/admin/realms/acme/users/{alice}/role-mappings/clients/{client_uuid}", token=token, body=[pusher])[0] == 204
    assert docker_actions(b) == []
    assert docker_actions(c) == []

    # A password changed on B is refused on C on the very next request (C remembered the old one).
    assert docker_actions(c) == []
    assert call(b, "PUT", f"/admin/realms/acme/users/{alice}/reset-password", token=token,
                body={"type": "password", "value": "Alice-pw-2", "temporary": False})[0] == 204
    assert docker_actions(c) == 401
    assert login(c, "acme", "alice", "Alice-pw-1")[0] == 401
    assert login(a, "acme", "alice", "Alice-pw-2")[0] == 200

    # A client disabled on C stops tokens on A at once.
    assert call(c, "PUT", f"/admin/realms/acme/clients/{client_uuid}", token=token, body={"enabled": False})[0] == 204
    assert docker_actions(a, "Alice-pw-2") != ["pull", "push"]
    assert call(c, "PUT", f"/admin/realms/acme/clients/{client_uuid}", token=token, body={"enabled": True})[0] == 204

    # Brute-force counting across nodes: guesses spread over the three are all counted.
    assert call(a, "PUT", "/admin/realms/acme", token=token, body={"bruteForceProtected": True, "failureFactor": 3})[0] == 204
    status, _, headers = call(a, "POST", "/admin/realms/acme/users", token=token, body={
        "username": "bob", "enabled": True, "credentials": [{"type": "password", "value": "Bob-pw-1"}]})
    bob = headers["Location"].rsplit("/", 1)[1]
    assert login(a, "acme", "bob", "wrong")[0] == 401
    assert call(b, "GET", f"/admin/realms/acme/attack-detection/brute-force/users/{bob}", token=token)[1]["numFailures"] == 1
    for base in (b, c):
        assert login(base, "acme", "bob", "wrong")[0] == 401
    status, state, _ = call(c, "GET", f"/admin/realms/acme/attack-detection/brute-force/users/{bob}", token=token)
    assert status == 200 and state["disabled"] is True, state
    assert login(b, "acme", "bob", "Bob-pw-1")[0] != 200, "failures on three nodes must lock bob out on all of them"


def test_a_node_killed_mid_write_loses_nothing_acknowledged(cluster):
    a, c = cluster.url(0), cluster.url(2)
    token = admin_token(a)
    assert call(a, "POST", "/admin/realms", token=token, body={"realm": "crash", "enabled": True})[0] == 201
    acknowledged, stop = [], threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _, _ = call(c, "POST", "/admin/realms/crash/users", token=token, body={"username": f"u{i}", "enabled": True})
            except Exception:  # noqa: BLE001 — the node died under us
                return
            if status == 201:
                acknowledged.append(f"u{i}")

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 20:
        pass
    cluster.nodes[2].process.send_signal(signal.SIGKILL)
    cluster.nodes[2].process.wait(timeout=10)
    stop.set()
    thread.join(timeout=30)
    status, users, _ = call(a, "GET", "/admin/realms/crash/users?max=10000", token=token)
    assert status == 200
    names = {u["username"] for u in users}
    assert set(acknowledged) <= names, f"lost: {set(acknowledged) - names}"
    # The others carry on.
    assert login(cluster.url(1), "master", "admin", ADMIN_PASSWORD)[0] == 200


def test_a_registry_pushes_through_all_three_nodes(cluster):
    """A real registry whose token realm is the round-robin address: skopeo's token requests land
    on every node, each signing with the realm's one key from the shared database."""
    skopeo, registry_bin = reg.need("skopeo"), reg.need("docker-registry")
    base = cluster.hostname
    token = admin_token(base)
    assert call(base, "POST", "/admin/realms", token=token, body={"realm": "acme", "enabled": True, "dockerV2Enabled": True})[0] == 201
    status, _, headers = call(base, "POST", "/admin/realms/acme/clients", token=token, body={"clientId": "registry.test", "protocol": "docker-v2",
                                                                                             "attributes": {"docker.authorization": "allow-all"}})
    client_uuid = headers["Location"].rsplit("/", 1)[1]
    assert call(base, "POST", "/admin/realms/acme/users", token=token, body={
        "username": "ci", "enabled": True, "credentials": [{"type": "password", "value": "Ci-pw-1"}]})[0] == 201
    config = call(base, "GET", f"/admin/realms/acme/clients/{client_uuid}/installation/providers/docker-v2-registry-config-file", token=token)[1]
    bundle = call(base, "GET", f"/admin/realms/acme/clients/{client_uuid}/installation/providers/docker-v2-cert-bundle", token=token)[1]
    root = cluster.root
    with open(os.path.join(root, "bundle.pem"), "w") as f:
        f.write(bundle)
    auth = "\n".join(line for line in config.splitlines() if not line.lstrip().startswith("#"))
    auth = auth.replace(next(l.split(": ", 1)[1] for l in auth.splitlines() if "rootcertbundle:" in l), os.path.join(root, "bundle.pem"))
    port = reg.free_port()
    with open(os.path.join(root, "registry.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {root}/storage\n"
                f"http:\n  addr: 127.0.0.1:{port}\n{auth}\n")
    log = open(os.path.join(root, "registry.log"), "w")
    registry = subprocess.Popen([registry_bin, "serve", os.path.join(root, "registry.yml")], stdout=log, stderr=log)
    try:
        reg.wait_http(f"http://127.0.0.1:{port}/v2/")
        image = os.path.join(root, "image")
        oci_image.write_layout(image, tag="v1")
        for n in range(3):
            code, out = reg.run(skopeo, "copy", "--dest-tls-verify=false", "--dest-creds", "ci:Ci-pw-1",
                                f"oci:{image}:v1", f"docker://127.0.0.1:{port}/team/app:{n}")
            assert code == 0, out
        # The token requests were spread: more than one node issued registry tokens.
        serving = 0
        for node in cluster.nodes:
            node.log.seek(0)
            if "route=/realms/{realm}/protocol/docker-v2/auth status=200" in node.log.read():
                serving += 1
        assert serving >= 2, "the round-robin proxy sent every token request to one node"
    finally:
        registry.terminate()
        registry.wait(timeout=10)


def test_a_realm_moves_from_sqlite_to_postgres_unchanged(postgres_url, tmp_path):
    """keyport export from SQLite, import into PostgreSQL, export again: the same bytes."""
    schema = "move_" + uuid.uuid4().hex[:12]
    separator = "&" if "?" in postgres_url else "?"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPORT_")}
    postgres = {**env, "KEYPORT_DB": "postgres", "KEYPORT_DB_URL": f"{postgres_url}{separator}currentSchema={schema}"}
    sqlite = ["--db-path", str(tmp_path / "keyport.db")]

    def keyport(*args, environment=env):
        result = subprocess.run([keyport_binary(), *args], capture_output=True, text=True, env=environment, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    vector = str(REPO / "Tests" / "Vectors" / "keycloak-registry-realm-export.json")
    keyport("import", "--file", vector, *sqlite)
    keyport("export", "--realm", "registry", "--file", str(tmp_path / "from-sqlite.json"), *sqlite)
    # The newest migration shipped for PostgreSQL (both engines share numbers from 0018 on).
    latest = max(int(p.name[:4]) for p in (REPO / "Migrations" / "postgres").glob("[0-9][0-9][0-9][0-9]_*.sql"))
    assert f"schema at migration {latest}" in keyport("migrate", environment=postgres).stdout
    keyport("import", "--file", str(tmp_path / "from-sqlite.json"), environment=postgres)
    keyport("export", "--realm", "registry", "--file", str(tmp_path / "from-postgres.json"), environment=postgres)
    assert f"schema at migration {latest} (0 applied now)" in keyport("migrate", environment=postgres).stdout
    assert (tmp_path / "from-sqlite.json").read_bytes() == (tmp_path / "from-postgres.json").read_bytes()
    # The way back too, into a fresh SQLite file.
    keyport("import", "--file", str(tmp_path / "from-postgres.json"), "--db-path", str(tmp_path / "back.db"))
    keyport("export", "--realm", "registry", "--file", str(tmp_path / "back.json"), "--db-path", str(tmp_path / "back.db"))
    assert (tmp_path / "back.json").read_bytes() == (tmp_path / "from-sqlite.json").read_bytes()


def test_the_database_connection_is_encrypted_and_verified_when_asked(postgres_url, tmp_path):
    """libpq's sslmode: `verify-full` checks the server's certificate against `sslrootcert` and
    its name; a certificate from another authority is refused, not trusted."""
    ca = os.environ.get("KEYPORT_TEST_POSTGRES_CA")
    if not ca:
        pytest.fail("KEYPORT_TEST_POSTGRES_CA is not set: start PostgreSQL with scripts/postgres-throwaway")
    parsed = urllib.parse.urlsplit(postgres_url)
    base = parsed._replace(netloc=parsed.netloc.replace("127.0.0.1", "localhost"), query="").geturl()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPORT_")}

    def migrate(query):
        schema = "tls_" + uuid.uuid4().hex[:8]
        return subprocess.run([keyport_binary(), "migrate", "--db", "postgres", "--db-url", f"{base}?currentSchema={schema}&{query}"],
                              capture_output=True, text=True, env=env, timeout=60)

    assert migrate(f"sslmode=verify-full&sslrootcert={ca}").returncode == 0
    assert migrate("sslmode=require").returncode == 0
    other = tmp_path / "other.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "other.key"), "-out", str(other),
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    refused = migrate(f"sslmode=verify-full&sslrootcert={other}")
    assert refused.returncode != 0 and "unreachable" in refused.stderr + refused.stdout, refused.stderr
    # The password never shows in what keyport prints.
    password = urllib.parse.urlsplit(postgres_url).password
    assert password not in refused.stderr + refused.stdout
