"""Schemathesis against docs/openapi.yaml: generated requests for every documented operation,
bounded in number, failing on any 5xx and on any answer that breaks its documented schema."""
import json
import pathlib
import subprocess
import sys
import urllib.parse
import urllib.request

from conftest import ADMIN_PASSWORD, REPO


def admin_token(url: str) -> str:
    form = urllib.parse.urlencode({"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                                   "password": ADMIN_PASSWORD}).encode()
    with urllib.request.urlopen(f"{url}/realms/master/protocol/openid-connect/token", form, timeout=10) as response:
        return json.load(response)["access_token"]


def call(url: str, token: str, method: str, path: str, body: dict):
    request = urllib.request.Request(f"{url}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def test_no_generated_request_gets_a_5xx_or_breaks_the_schema(keyport):
    token = admin_token(keyport.url)
    call(keyport.url, token, "POST", "/admin/realms", {"realm": "fuzz", "enabled": True, "dockerV2Enabled": True})
    call(keyport.url, token, "POST", "/admin/realms/fuzz/clients", {"clientId": "registry", "protocol": "docker-v2"})
    call(keyport.url, token, "POST", "/admin/realms/fuzz/users", {"username": "alice", "enabled": True,
                                                                   "credentials": [{"type": "password", "value": "Alice-pw-1"}]})
    call(keyport.url, token, "POST", "/admin/realms/fuzz/groups", {"name": "team"})
    schemathesis = pathlib.Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(schemathesis), "--config-file", str(REPO / "Tests/e2e/schemathesis.toml"), "run", str(REPO / "docs/openapi.yaml"),
         "--url", keyport.url, "--checks", "not_a_server_error,response_schema_conformance",
         "--max-examples", "5", "--phases", "examples,coverage,fuzzing", "--generation-deterministic",
         "--generation-with-security-parameters", "false", "--request-timeout", "30",
         "--header", f"Authorization: Bearer {token}"],
        capture_output=True, text=True, timeout=900, cwd=keyport.data_dir)  # its cache stays out of the repository
    # The failures first (what broke, with the request to replay it), then the summary.
    failures = run.stdout.find("FAILURES")
    summary = (run.stdout[failures:failures + 6000] + "\n…\n" if failures >= 0 else "") + run.stdout[-1500:]
    print(summary)
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert " passed" in summary
    keyport.log.seek(0)
    assert "status=5" not in keyport.log.read()
