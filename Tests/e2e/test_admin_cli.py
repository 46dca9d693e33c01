"""kpadm against a running Keyport: the docs/admin-cli.md walk-through executed verbatim, then
proven with a real registry and skopeo; and each verb's behaviour as a script sees it."""
import base64
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.request

import pytest

import oci_image
import test_registry as reg
from conftest import ADMIN_PASSWORD, REPO, Keyport

KPADM = str(REPO / ".build" / "debug" / "kpadm")


def walkthrough_commands() -> str:
    text = (REPO / "docs" / "admin-cli.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6, "the walk-through lost its commands"
    return "\n".join(blocks)


@pytest.fixture
def workdir():
    path = tempfile.mkdtemp(prefix="kp-cli-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def kpadm_env(workdir, keyport):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPADM_", "KEYPORT_"))}
    env.update({"HOME": workdir, "PATH": f"{REPO / '.build' / 'debug'}:{env.get('PATH', '')}",
                "KEYPORT_URL": keyport.url, "KPADM_PASSWORD": ADMIN_PASSWORD})
    return env


def test_the_walkthrough_runs_verbatim_and_the_registry_agrees(workdir):
    port = reg.free_port()
    keyport = Keyport(workdir, env={"KEYPORT_HOSTNAME": f"http://127.0.0.1:{port}"}, port=port)
    registry = None
    try:
        # The page's own registry (its config.yml, its command) on a free port.
        registry_port = reg.free_port()
        env = {**kpadm_env(workdir, keyport), "LOCAL_REGISTRY_PORT": str(registry_port)}
        script = "set -euo pipefail\n" + walkthrough_commands()
        registry = subprocess.Popen(["bash", "-c", script], cwd=workdir, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, start_new_session=True)
        stdout, stderr = registry.communicate(timeout=300)
        assert registry.returncode == 0, stdout + stderr
        access = json.loads(next(l for l in stdout.splitlines() if l.startswith("{")))
        assert access["roles"] == ["team-a-pull"] and access["access"][0]["actions"] == ["pull"], stdout
        # The doctor found the page's registry and realm in agreement, key and challenge included.
        assert "No problem found between realm acme and the registry" in stderr, stdout + stderr
        assert "ok      [registry] rootcertbundle" in stdout and "asks for tokens of service registry.acme.test" in stdout, stdout

        # The session file holds tokens, never a password, and only its owner can read it.
        session_file = pathlib.Path(workdir, ".keyport", "kpadm.json")
        assert oct(session_file.stat().st_mode & 0o777) == "0o600"
        assert ADMIN_PASSWORD not in session_file.read_text()

        # The complete config.yml the page shows, as its commands wrote it.
        config = pathlib.Path(workdir, "config.yml").read_text()
        assert f"addr: localhost:{registry_port}" in config and f"rootcertbundle: {workdir}/keyport-acme.pem" in config, config
        assert f"realm: {keyport.hostname}/realms/acme/protocol/docker-v2/auth" in config, config
        shown = re.search(r"```yaml\n(.*?)```", (REPO / "docs" / "admin-cli.md").read_text(), flags=re.S).group(1)
        written = "\n".join(l for l in config.splitlines() if l.strip() and not l.lstrip().startswith("#")) + "\n"
        written = (written.replace(workdir, "/home/you").replace(str(registry_port), "5000")
                   .replace(keyport.hostname, "http://localhost:8080"))
        assert written == shown, written
        address = f"localhost:{registry_port}"
        reg.wait_http(f"http://{address}/v2/")
        image = os.path.join(workdir, "image")
        oci_image.write_layout(image, tag="v1")

        def push(user, password, repository):
            return reg.run(reg.need("skopeo"), "copy", "--dest-tls-verify=false", "--dest-creds", f"{user}:{password}",
                           f"oci:{image}:v1", f"docker://{address}/{repository}")

        def pull(user, password, repository):
            return reg.run(reg.need("skopeo"), "copy", "--src-tls-verify=false", "--src-creds", f"{user}:{password}",
                           f"docker://{address}/{repository}", f"oci:{workdir}/pulled-{user}:v1")

        code, out = push("alice", "Alice-pw-1", "team-a/app:1")
        assert code == 0, out
        code, out = pull("bob", "Bob-pw-1", "team-a/app:1")
        assert code == 0, out
        code, out = push("bob", "Bob-pw-1", "team-a/app:2")
        assert code != 0 and "denied" in out, out
        code, out = push("alice", "Alice-pw-1", "team-b/app:1")
        assert code != 0, out
    finally:
        if registry:
            try:
                os.killpg(registry.pid, signal.SIGTERM)  # the walk-through's background registry
            except ProcessLookupError:
                pass
        keyport.stop()


@pytest.fixture
def cli(workdir):
    keyport = Keyport(workdir)
    env = kpadm_env(workdir, keyport)

    def kpadm(*args, input=None, extra_env=None):
        result = subprocess.run([KPADM, *args], env={**env, **(extra_env or {})}, capture_output=True, text=True, input=input, timeout=120)
        return result.returncode, result.stdout, result.stderr

    code, _, err = kpadm("config", "credentials", "--server", keyport.url, "--realm", "master", "--user", "admin")
    assert code == 0, err
    kpadm.workdir = workdir
    kpadm.keyport = keyport
    yield kpadm
    keyport.stop()


def test_each_verb_as_a_script_uses_it(cli):
    assert cli("create", "realms", "-s", "realm=acme", "-s", "enabled=true")[0] == 0
    code, out, err = cli("create", "users", "-r", "acme", "-s", "username=alice", "-s", "enabled=true", "-s", "attributes.team=[\"a\"]")
    assert code == 0 and re.match(r"Created new user with id '[0-9a-f-]{36}'", err), err
    user_id = cli("get", "users", "-r", "acme", "-q", "username=alice", "-q", "exact=true", "--fields", "id")[1]
    user_id = json.loads(user_id)[0]["id"]
    # Output is compact JSON when stdout is not a terminal, keys sorted.
    code, out, _ = cli("get", f"users/{user_id}", "-r", "acme", "--fields", "username,attributes.team")
    assert out.strip() == '{"attributes":{"team":["a"]},"username":"alice"}'

    # update merges: the other fields survive.
    assert cli("update", f"users/{user_id}", "-r", "acme", "-s", "firstName=Alice")[0] == 0
    user = json.loads(cli("get", f"users/{user_id}", "-r", "acme")[1])
    assert user["firstName"] == "Alice" and user["attributes"]["team"] == ["a"]

    # -o prints the created object; -f - reads a body from standard input.
    code, out, _ = cli("create", "roles", "-r", "acme", "-f", "-", "-o", input=json.dumps({"name": "developer", "description": "devs"}))
    assert code == 0 and json.loads(out)["name"] == "developer"
    assert cli("add-roles", "-r", "acme", "--uusername", "alice", "--rolename", "developer")[0] == 0
    roles = json.loads(cli("get-roles", "-r", "acme", "--uusername", "alice")[1])
    assert "developer" in [r["name"] for r in roles]
    assert cli("remove-roles", "-r", "acme", "--uusername", "alice", "--rolename", "developer")[0] == 0
    assert "developer" not in [r["name"] for r in json.loads(cli("get-roles", "-r", "acme", "--uusername", "alice")[1])]

    # docker helpers: grant, revoke, disable.
    # Like create: a message for people on stderr, the id alone on stdout only with -i.
    code, out, err = cli("docker", "client", "create", "-r", "acme", "--service", "reg.test")
    assert code == 0 and out == "" and "Created docker-v2 client reg.test with id" in err, (out, err)
    code, out, err = cli("docker", "client", "create", "-r", "acme", "--service", "reg2.test", "-i")
    assert code == 0 and re.fullmatch(r"[0-9a-f-]{36}\n", out) and err == "", (out, err)
    assert cli("docker", "grant", "-r", "acme", "--service", "reg.test", "--role", "r1", "repository:a/*:pull", "registry:catalog:*")[0] == 0
    assert cli("docker", "revoke", "-r", "acme", "--service", "reg.test", "--role", "r1", "registry:catalog:*")[0] == 0
    client_id = json.loads(cli("get", "clients", "-r", "acme", "-q", "clientId=reg.test", "--fields", "id")[1])[0]["id"]
    role = json.loads(cli("get", f"clients/{client_id}/roles/r1", "-r", "acme")[1])
    assert role["attributes"]["docker.grant"] == ["repository:a/*:pull"]
    code, _, err = cli("docker", "grant", "-r", "acme", "--service", "reg.test", "--role", "r1", "repository:a/*:fly")
    assert code == 2 and "unknown action 'fly'" in err

    # docker sessions: the identity tokens docker login keeps, listed and revoked.
    assert cli("update", "realms/acme", "-s", "dockerV2Enabled=true")[0] == 0
    assert cli("update", f"users/{user_id}/reset-password", "-r", "acme", "-s", "type=password", "-s", "value=pw-Alice-1",
               "-s", "temporary=false", "-n")[0] == 0
    tokens = []
    for _ in range(2):
        request = urllib.request.Request(f"{cli.keyport.url}/realms/acme/protocol/docker-v2/auth?service=reg.test&offline_token=true",
                                         headers={"Authorization": "Basic " + base64.b64encode(b"alice:pw-Alice-1").decode()})
        tokens.append(json.load(urllib.request.urlopen(request))["refresh_token"])
    code, out, _ = cli("docker", "sessions", "list", "-r", "acme", "--service", "reg.test", "--user", "alice")
    listed = json.loads(out)
    assert code == 0 and len(listed) == 2 and all(t not in out for t in tokens), out
    code, _, err = cli("docker", "sessions", "revoke", "-r", "acme", "--service", "reg.test", "--user", "alice", "--session", "nope")
    assert code == 1 and "no identity token 'nope'" in err, err
    assert cli("docker", "sessions", "revoke", "-r", "acme", "--service", "reg.test", "--user", "alice", "--session", listed[0]["id"])[0] == 0
    assert len(json.loads(cli("docker", "sessions", "list", "-r", "acme", "--service", "reg.test", "--user", "alice")[1])) == 1
    code, _, err = cli("docker", "sessions", "revoke", "-r", "acme", "--service", "reg.test", "--user", "alice")
    assert code == 0 and "Revoked every identity token of alice for reg.test" in err, err
    assert json.loads(cli("docker", "sessions", "list", "-r", "acme", "--service", "reg.test", "--user", "alice")[1]) == []
    assert cli("docker", "disable", "-r", "acme")[0] == 0
    assert json.loads(cli("get", "realms/acme", "--fields", "dockerV2Enabled")[1]) == {"dockerV2Enabled": False}

    # The server's refusals: exit 1 with its message.
    code, _, err = cli("create", "realms", "-s", "realm=acme")
    assert code == 1 and "409" in err
    code, _, err = cli("get", "users/nope", "-r", "acme")
    assert code == 1 and "User not found" in err

    # delete
    assert cli("delete", f"users/{user_id}", "-r", "acme")[0] == 0
    assert cli("get", f"users/{user_id}", "-r", "acme")[0] == 1

    # One-shot use without the stored session (for CI): KPADM_PASSWORD, no password in argv.
    code, out, _ = cli("get", "realms/acme", "--server", cli.keyport.url, "--user", "admin", "--config", "/nonexistent", "--fields", "realm")
    assert code == 0 and json.loads(out) == {"realm": "acme"}


def test_kcadm_partial_import_as_keycloak_documents_it(cli):
    """`kcadm.sh create partialImport -r R -s ifResourceExists=… -o -f realm.json`, Keycloak's own
    example, with kpadm: the results are printed, FAIL exits 1 with the server's 409."""
    assert cli("create", "realms", "-s", "realm=kafka-authz", "-s", "enabled=true")[0] == 0
    path = str(REPO / "Tests" / "Vectors" / "keycloak-partial-realm.json")
    code, out, err = cli("create", "partialImport", "-r", "kafka-authz", "-s", "ifResourceExists=FAIL", "-o", "-f", path)
    assert code == 0, err
    results = json.loads(out)
    assert results["added"] == 10 and {r["action"] for r in results["results"]} == {"ADDED"}, results
    code, _, err = cli("create", "partialImport", "-r", "kafka-authz", "-s", "ifResourceExists=FAIL", "-f", path)
    assert code == 1 and "409" in err and "already exists" in err, err
    code, out, err = cli("create", "partialImport", "-r", "kafka-authz", "-s", "ifResourceExists=SKIP", "-o", "-f", path)
    assert code == 0 and json.loads(out)["skipped"] == 10, out + err


def test_tokens_refresh_by_themselves_and_an_expired_session_says_so(cli):
    session_file = pathlib.Path(cli.workdir, ".keyport", "kpadm.json")
    session = json.loads(session_file.read_text())
    session["expiresAt"] = 0  # the access token is stale: kpadm refreshes it
    session_file.write_text(json.dumps(session))
    code, _, err = cli("get", "serverinfo")
    assert code == 0, err
    refreshed = json.loads(session_file.read_text())
    assert refreshed["expiresAt"] > 0 and refreshed["accessToken"] != session["accessToken"]
    assert oct(session_file.stat().st_mode & 0o777) == "0o600"

    refreshed["expiresAt"] = 0
    refreshed["refreshExpiresAt"] = 0  # and now the whole session is over
    session_file.write_text(json.dumps(refreshed))
    code, _, err = cli("get", "serverinfo")
    assert code == 1 and "has expired: log in again with kpadm config credentials" in err, err


def test_the_first_hour_rough_edges_are_gone(cli):
    # A mistyped verb is named as such, not as an unknown option after it.
    code, _, err = cli("creat", "users", "-r", "acme")
    assert code == 2 and "'creat' is not a command of kpadm. Did you mean 'create'?" in err, err
    # Keycloak's old /auth path says where Keyport serves.
    code, _, err = cli("config", "credentials", "--server", cli.keyport.url + "/auth", "--realm", "master", "--user", "admin")
    assert code == 1 and f"(unless started with --http-relative-path /auth): use --server {cli.keyport.url}" in err, err
    # Broken JSON after -s is refused before anything is sent.
    code, _, err = cli("create", "clients", "-r", "master", "-s", "clientId=x", "-s", 'redirectUris=["https://x/*"')
    assert code == 2 and "starts like JSON but is not valid JSON" in err, err
    assert json.loads(cli("get", "clients", "-r", "master", "-q", "clientId=x")[1]) == []
    # A resource kpadm does not know by that name: the URL, as kcadm says it, never "no details".
    assert cli("create", "realms", "-s", "realm=quiet", "-s", "enabled=true")[0] == 0
    code, _, err = cli("get", "user", "-r", "quiet")
    assert code != 0 and "Resource not found for url:" in err and "/admin/realms/quiet/user" in err, err
    # A misspelled role names itself and its realm.
    cli("create", "users", "-r", "quiet", "-s", "username=ann", "-s", "enabled=true")
    code, _, err = cli("add-roles", "-r", "quiet", "--uusername", "ann", "--rolename", "admn")
    assert code != 0 and "no realm role 'admn' in realm quiet" in err, err
    # Registry work in a realm whose docker-v2 is off: done, and said to wait for the switch.
    code, _, err = cli("docker", "client", "create", "-r", "quiet", "--service", "registry.quiet.test")
    assert code == 0 and "docker-v2 is off for realm quiet" in err, err
    code, _, err = cli("docker", "grant", "-r", "quiet", "--service", "registry.quiet.test", "--role", "r", "repository:a/*:pull")
    assert code == 0 and "docker-v2 is off for realm quiet" in err, err
    code, out, err = cli("docker", "access", "-r", "quiet", "--service", "registry.quiet.test", "--user", "ann", "repository:a/b:pull")
    assert code == 0 and "ann cannot log in: docker-v2 is off" in err, err
    # --version on both executables: the version and the revision they were built from.
    for binary in (KPADM, str(REPO / ".build" / "debug" / "keyport")):
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0 and re.fullmatch(r"(kpadm|keyport) \d+\.\d+\.\d+ \(revision [0-9a-f]{12}(-modified)?\)\n", result.stdout), result


@pytest.mark.parametrize("binary", [KPADM, str(REPO / ".build" / "debug" / "keyport")])
def test_every_option_and_argument_says_what_it_is(binary):
    """Each executable's own description of itself (ArgumentParser's dump): nothing undocumented,
    and no example so long that help, printed at 80 columns, would break it mid-command."""
    result = subprocess.run([binary, "--experimental-dump-help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    missing, long_examples = [], []

    def visit(command, path):
        for argument in command.get("arguments", []):
            name = argument.get("preferredName", {}).get("name") or argument.get("valueName")
            if argument.get("shouldDisplay", True) and not argument.get("abstract"):
                missing.append(f"{path} {name}")
        long_examples.extend(f"{path}: {line}" for line in (command.get("discussion") or "").splitlines()
                             if line.startswith(" ") and len(line) > 80)
        for sub in command.get("subcommands", []):
            if sub["commandName"] != "help":  # ArgumentParser's own
                visit(sub, f"{path} {sub['commandName']}")
    visit(json.loads(result.stdout)["command"], os.path.basename(binary))
    assert missing == [] and long_examples == [], (missing, long_examples)


def test_a_lost_admin_is_recovered_with_one_command(workdir):
    """keyport bootstrap-admin user, against the database of a running server whose admin
    password nobody knows; and a restart with bootstrap variables says why they are ignored."""
    keyport = Keyport(workdir)
    try:
        binary = str(REPO / ".build" / "debug" / "keyport")
        db = os.path.join(workdir, "keyport.db")
        result = subprocess.run([binary, "bootstrap-admin", "user", "--username", "rescue", "--password-stdin", "--db-path", db],
                                input="Rescue-pw-1\n", capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "Created temporary administrator 'rescue'" in result.stdout, result
        assert "Rescue-pw-1" not in result.stdout + result.stderr
        # Generated when none is given, printed once.
        result = subprocess.run([binary, "bootstrap-admin", "user", "--username", "rescue2", "--db-path", db],
                                capture_output=True, text=True, timeout=60)
        generated = re.search(r"Generated password \(shown only now\): (\S+)", result.stdout).group(1)
        # --password-stdin at a terminal would echo the password: refused, with what to do.
        import pty
        leader, follower = pty.openpty()
        try:
            result = subprocess.run([binary, "bootstrap-admin", "user", "--username", "typed", "--password-stdin", "--db-path", db],
                                    stdin=follower, capture_output=True, text=True, timeout=60)
        finally:
            os.close(leader)
            os.close(follower)
        assert result.returncode == 1 and "--password-stdin reads a pipe" in result.stderr, result
        # The rules every username meets apply here too.
        result = subprocess.run([binary, "bootstrap-admin", "user", "--username", "ops/root", "--db-path", db],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "Username must not contain '/'" in result.stderr, result
        # A name in use is refused, nothing changes.
        result = subprocess.run([binary, "bootstrap-admin", "user", "--username", "rescue", "--db-path", db],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "already exists" in result.stderr

        env = {k: v for k, v in os.environ.items() if not k.startswith(("KPADM_", "KEYPORT_"))}
        env["HOME"] = workdir
        for user, password in (("rescue", "Rescue-pw-1"), ("rescue2", generated)):
            run = subprocess.run([KPADM, "create", "realms", "-s", f"realm=made-by-{user}", "--server", keyport.url,
                                  "--user", user, "--config", os.path.join(workdir, "none.json")],
                                 env={**env, "KPADM_PASSWORD": password}, capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
        rescue = json.loads(subprocess.run([KPADM, "get", "users", "-r", "master", "-q", "username=rescue", "--server", keyport.url,
                                            "--user", "rescue", "--config", os.path.join(workdir, "none.json")],
                                           env={**env, "KPADM_PASSWORD": "Rescue-pw-1"}, capture_output=True, text=True).stdout)
        assert rescue[0]["attributes"]["is_temporary_admin"] == ["true"]
    finally:
        keyport.stop()
    # The bootstrap variables on a database that has its master realm: ignored, and said so.
    keyport.log.close()
    again = Keyport(workdir)
    try:
        again.log.seek(0)
        log = again.log.read()
        assert "KEYPORT_BOOTSTRAP_ADMIN_USERNAME/PASSWORD ignored" in log and "keyport bootstrap-admin user" in log, log
        assert ADMIN_PASSWORD not in log
    finally:
        again.stop()
