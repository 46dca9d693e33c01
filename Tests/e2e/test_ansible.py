"""Ansible's Keycloak modules (community.general, from the `ansible` package on PyPI) managing a
realm on Keyport as code: the playbook Tests/e2e/ansible/keyport.yml builds a realm, clients, a
client scope, roles, a group, users and every kind of role mapping; run again it must change
nothing (Ansible decides that by comparing what Keyport returns with what it sent, so a field
Keyport drops or reshapes shows up here); with state=absent it takes everything apart again."""
import base64
import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import yaml

from conftest import ADMIN_PASSWORD, REPO

PLAYBOOK_DIR = REPO / "Tests" / "e2e" / "ansible"
ACME = yaml.safe_load((PLAYBOOK_DIR / "acme.yml").read_text())
REALM = ACME["realm"]
USERS = {u["username"]: u["password"] for u in ACME["users"]}


def run_playbook(keyport, home: pathlib.Path, state: str, playbook: str = "keyport.yml", extra: dict | None = None) -> dict:
    """ansible-playbook from this venv against `keyport`, isolated from any user configuration;
    returns the json callback's report, plus the requests Keyport refused meanwhile."""
    bin_dir = pathlib.Path(sys.executable).parent
    config = home / "ansible.cfg"
    config.write_text("")  # an empty config of our own: no ansible.cfg from cwd, HOME or /etc
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({
        "HOME": str(home), "PATH": f"{bin_dir}:{env.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(config), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOWS": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    })
    keyport.log.seek(0, os.SEEK_END)
    log_start = keyport.log.tell()
    variables = {"ansible_python_interpreter": sys.executable, "keyport_url": keyport.url, "admin_password": ADMIN_PASSWORD,
                 "state": state, **(extra or {})}
    result = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(PLAYBOOK_DIR / playbook),
         *[argument for name, value in variables.items() for argument in ("-e", f"{name}={value}")]],
        cwd=home, env=env, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"ansible-playbook printed no JSON (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
    keyport.log.seek(log_start)
    refused = [" ".join(re.findall(r"(?:method|route|status)=\S+", line)) for line in keyport.log.read().splitlines()
               if "msg=request" in line and re.search(r"status=[45]\d\d", line)]
    report["returncode"] = result.returncode
    report["stats"] = report["stats"]["localhost"]
    report["failed_tasks"] = [f"{t['task']['name']}: {outcome_messages(t)}"
                              for t in tasks(report) if t["hosts"]["localhost"].get("failed")]
    report["changed_tasks"] = [t["task"]["name"] for t in tasks(report) if t["hosts"]["localhost"].get("changed")]
    report["refused_requests"] = refused
    return report


def tasks(report):
    return [t for play in report["plays"] for t in play["tasks"] if "localhost" in t["hosts"]]


def outcome_messages(task) -> str:
    outcome = task["hosts"]["localhost"]
    messages = [outcome.get("msg", "")] + [r.get("msg", "") for r in outcome.get("results", []) if r.get("failed")]
    return " | ".join(m for m in messages if m)


def explain(report) -> str:
    return json.dumps({k: report[k] for k in ("stats", "failed_tasks", "changed_tasks", "refused_requests")}, indent=1)


def admin_token(keyport) -> str:
    form = {"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": ADMIN_PASSWORD}
    return token(keyport, "master", form)["access_token"]


def token(keyport, realm, form) -> dict:
    request = urllib.request.Request(f"{keyport.url}/realms/{realm}/protocol/openid-connect/token",
                                     data=urllib.parse.urlencode(form).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def admin(keyport, method, path, body=None):
    """One admin REST call; returns (status, parsed body)."""
    request = urllib.request.Request(
        f"{keyport.url}/admin/realms{path}", method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {admin_token(keyport)}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def status_of(call) -> int:
    try:
        call()
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def test_ansible_keycloak_modules_manage_a_realm_idempotently(keyport, tmp_path):
    # 1. Build it.
    first = run_playbook(keyport, tmp_path, "present")
    assert first["returncode"] == 0 and first["stats"]["failures"] == 0, explain(first)
    assert first["stats"]["changed"] > 0, explain(first)

    # What the playbook built works: alice logs in with her password through the confidential
    # client (its secret as set by Ansible) and her token carries every role the mappings gave her.
    api = ACME["api_client"]
    form = {"grant_type": "password", "client_id": api, "client_secret": ACME["api_secret"], "scope": "openid"}
    alice = claims(token(keyport, REALM, {**form, "username": "alice", "password": USERS["alice"]})["access_token"])
    assert {"developer", "auditor"} <= set(alice["realm_access"]["roles"]), alice  # direct, and through the group
    assert alice["resource_access"][api]["roles"] == ["reader"], alice  # through the group
    assert alice["resource_access"][ACME["registry_client"]]["roles"] == ["team-push"], alice
    assert alice.get("tenant") == "acme", alice  # the default client scope's hard-coded claim
    bob = claims(token(keyport, REALM, {**form, "username": "bob", "password": USERS["bob"]})["access_token"])
    assert bob["resource_access"][api]["roles"] == ["writer"] and "developer" not in bob["realm_access"]["roles"], bob
    assert status_of(lambda: token(keyport, REALM, {**form, "username": "bob", "password": USERS["alice"]})) == 401
    assert status_of(lambda: token(keyport, REALM, {**form, "client_secret": "wrong", "username": "bob",
                                                     "password": USERS["bob"]})) == 401
    service = claims(token(keyport, REALM, {"grant_type": "client_credentials", "client_id": api,
                                            "client_secret": ACME["api_secret"]})["access_token"])
    assert service["resource_access"][api]["roles"] == ["reader"], service

    # The admin API agrees with the tokens, mapping by mapping.
    status, users = admin(keyport, "GET", f"/{REALM}/users?username=alice&exact=true")
    assert status == 200 and len(users) == 1, users
    status, mappings = admin(keyport, "GET", f"/{REALM}/users/{users[0]['id']}/role-mappings")
    assert "developer" in [r["name"] for r in mappings["realmMappings"]] and "clientMappings" not in mappings, mappings
    status, groups = admin(keyport, "GET", f"/{REALM}/users/{users[0]['id']}/groups")
    assert [g["name"] for g in groups] == ["engineering"], groups
    status, group_mappings = admin(keyport, "GET", f"/{REALM}/groups/{groups[0]['id']}/role-mappings")
    assert [r["name"] for r in group_mappings["realmMappings"]] == ["auditor"], group_mappings
    assert {c: [r["name"] for r in m["mappings"]] for c, m in group_mappings["clientMappings"].items()} == \
        {api: ["reader"], ACME["registry_client"]: ["team-push"]}, group_mappings
    status, clients = admin(keyport, "GET", f"/{REALM}/clients?clientId={api}")
    client_id = clients[0]["id"]
    status, defaults = admin(keyport, "GET", f"/{REALM}/clients/{client_id}/default-client-scopes")
    assert status == 200 and "acme-profile" in [s["name"] for s in defaults], defaults
    status, optional = admin(keyport, "GET", f"/{REALM}/clients/{client_id}/optional-client-scopes")
    assert status == 200 and "acme-audit" in [s["name"] for s in optional], optional

    # The docker client role's grant, used by a registry login. keycloak_realm has no option for
    # Keyport's dockerV2Enabled (and passes no unknown keys), so it is switched on here, directly.
    status, _ = admin(keyport, "PUT", f"/{REALM}", {"dockerV2Enabled": True})
    assert status == 204, status
    docker = urllib.request.Request(
        f"{keyport.url}/realms/{REALM}/protocol/docker-v2/auth?service={ACME['registry_client']}"
        "&scope=repository:team/app:pull,push",
        headers={"Authorization": "Basic " + base64.b64encode(f"alice:{USERS['alice']}".encode()).decode()})
    access = claims(json.load(urllib.request.urlopen(docker, timeout=30))["token"])["access"]
    assert access == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}], access

    # The identity provider, as Keycloak answers it (federated client authentication uses it).
    status, idp = admin(keyport, "GET", f"/{REALM}/identity-provider/instances/github")
    assert status == 200 and idp["providerId"] == "oidc" and idp["config"]["supportsClientAssertions"] == "true", idp
    # The sign-in provider and its mappers (made after the group and role they name).
    status, mappers = admin(keyport, "GET", f"/{REALM}/identity-provider/instances/corp-sso/mappers")
    assert status == 200 and sorted((m["name"], m["identityProviderMapper"]) for m in mappers) == [
        ("auditors", "oidc-role-idp-mapper"), ("engineers", "oidc-hardcoded-group-idp-mapper")], mappers

    # 2. The same playbook again: Keyport returns what Ansible sent, so there is nothing to do.
    second = run_playbook(keyport, tmp_path, "present")
    assert second["returncode"] == 0 and second["stats"]["failures"] == 0, explain(second)
    assert second["stats"]["changed"] == 0 and second["changed_tasks"] == [], explain(second)

    # 3. state=absent removes it all, mappings first, realm last.
    third = run_playbook(keyport, tmp_path, "absent")
    assert third["returncode"] == 0 and third["stats"]["failures"] == 0, explain(third)
    assert "Realm" in third["changed_tasks"] and "Users with passwords" in third["changed_tasks"], explain(third)
    status, _ = admin(keyport, "GET", f"/{REALM}")
    assert status == 404
    status, realms = admin(keyport, "GET", "")
    assert REALM not in [r["realm"] for r in realms], realms

    # Passwords and the client secret went through Keyport without reaching its log.
    keyport.log.seek(0)
    log = keyport.log.read()
    assert not [s for s in [*USERS.values(), ACME["api_secret"]] if s in log]


def test_ansible_manages_a_directory_idempotently(keyport, tmp_path):
    """keycloak_user_federation (Tests/e2e/ansible/directory.yml) makes an LDAP provider with its
    mappers against a throwaway slapd; the directory's people then sign in and their group
    arrives under /ldap; the same playbook again changes nothing; state=absent removes the
    provider, the people it imported, and the realm."""
    from test_ldap import ADMIN_DN, ADMIN_PW, Slapd
    slapd = Slapd(str(tmp_path))
    try:
        directory = {"ldap_url": slapd.url, "ldap_bind_dn": ADMIN_DN, "ldap_bind_password": ADMIN_PW}
        first = run_playbook(keyport, tmp_path, "present", "directory.yml", directory)
        assert first["returncode"] == 0 and first["stats"]["failures"] == 0, explain(first)
        assert "Directory" in first["changed_tasks"], explain(first)
        status, found = admin(keyport, "GET", "/corp/components?type=org.keycloak.storage.UserStorageProvider&name=corp-ldap")
        assert status == 200 and len(found) == 1 and found[0]["config"]["bindCredential"] == ["**********"], found
        provider = found[0]["id"]
        status, mappers = admin(keyport, "GET", f"/corp/components?parent={provider}")
        assert {"username", "email", "groups"} <= {m["name"] for m in mappers}, mappers

        # What it made works: zed signs in with his directory password, in the directory's group.
        status, synced = admin(keyport, "POST", f"/corp/user-storage/{provider}/sync?action=triggerFullSync")
        assert status == 200 and synced["added"] == 2, synced
        zed = token(keyport, "corp", {"grant_type": "password", "client_id": "admin-cli", "username": "zed", "password": "zed-dir-pw"})
        assert claims(zed["access_token"])["email"] == "zed@corp.test"
        status, users = admin(keyport, "GET", "/corp/users?username=zed&exact=true")
        status, groups = admin(keyport, "GET", f"/corp/users/{users[0]['id']}/groups")
        assert [g["path"] for g in groups] == ["/ldap/builders"], groups

        # Again: nothing to do (the credential, masked in every answer, is not sent again).
        second = run_playbook(keyport, tmp_path, "present", "directory.yml", directory)
        assert second["returncode"] == 0 and second["stats"]["failures"] == 0, explain(second)
        assert second["stats"]["changed"] == 0 and second["changed_tasks"] == [], explain(second)

        third = run_playbook(keyport, tmp_path, "absent", "directory.yml", directory)
        assert third["returncode"] == 0 and third["stats"]["failures"] == 0, explain(third)
        assert third["changed_tasks"] == ["Directory", "Realm"], explain(third)
        status, _ = admin(keyport, "GET", "/corp")
        assert status == 404
        keyport.log.seek(0)
        assert ADMIN_PW not in keyport.log.read()
    finally:
        slapd.stop()
