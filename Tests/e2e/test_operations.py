"""docs/operations.md as written: the nginx and Caddy TLS proxies in front of Keyport with a
registry pushing through them, the systemd unit, and the backup-then-migrate block."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import pytest

import test_registry as reg
from conftest import REPO, keyport_binary

OPERATIONS = (REPO / "docs" / "operations.md").read_text()


def block(language: str, after: str = "") -> str:
    text = OPERATIONS.split(after, 1)[1] if after else OPERATIONS
    found = re.search(rf"```{language}\n(.*?)```", text, flags=re.S)
    assert found, f"docs/operations.md lost its {language} block"
    return found.group(1)


def self_signed(directory):
    cert, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    code, out = reg.run(reg.need("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert)
    assert code == 0, out
    return cert, key


def proxy_config(language, keyport_port, cert, key):
    """The page's proxy configuration, with this run's certificate and Keyport's port."""
    return (block(language).replace("/etc/keyport/tls.crt", cert).replace("/etc/keyport/tls.key", key)
            .replace("127.0.0.1:8080", f"127.0.0.1:{keyport_port}"))


def start_nginx(root, proxy_port, keyport_port, cert, key):
    server = proxy_config("nginx", keyport_port, cert, key).replace("listen 443 ssl;", f"listen 127.0.0.1:{proxy_port} ssl;")
    # The documented server block inside the smallest nginx.conf that runs without root's paths.
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"pid {root}/nginx.pid;\nerror_log {root}/nginx-error.log;\nevents {{}}\nhttp {{\n"
                f"access_log {root}/nginx-access.log;\nclient_body_temp_path {root}/nginx-body;\n"
                f"proxy_temp_path {root}/nginx-proxy;\n{server}\n}}\n")
    return subprocess.Popen([reg.need("nginx"), "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def start_caddy(root, proxy_port, keyport_port, cert, key):
    site = proxy_config("caddyfile", keyport_port, cert, key).replace("auth.example.com {", f"https://localhost:{proxy_port} {{")
    caddyfile = os.path.join(root, "Caddyfile")
    with open(caddyfile, "w") as f:
        # Global options only the test needs: no admin endpoint, HTTP redirects on a free port.
        f.write(f"{{\n\tadmin off\n\thttp_port {reg.free_port()}\n\thttps_port {proxy_port}\n}}\n{site}")
    env = {**os.environ, "XDG_DATA_HOME": root, "XDG_CONFIG_HOME": root, "HOME": root}
    log = open(os.path.join(root, "caddy.log"), "w")
    return subprocess.Popen([reg.need("caddy"), "run", "--config", caddyfile, "--adapter", "caddyfile"], stdout=log, stderr=log, env=env)


@pytest.mark.parametrize("proxy", ["nginx", "caddy"])
def test_a_registry_pushes_through_the_documented_tls_proxy(proxy):
    root = tempfile.mkdtemp(prefix=f"kp-{proxy}-", dir="/tmp")
    proxy_port, keyport_port = reg.free_port(), reg.free_port()
    cert, key = self_signed(root)
    process = (start_nginx if proxy == "nginx" else start_caddy)(root, proxy_port, keyport_port, cert, key)
    setup = None
    try:
        public = f"https://localhost:{proxy_port}"
        setup = reg.Setup(root, port=keyport_port, hostname=public, env={"KEYPORT_PROXY_HEADERS": "xforwarded"})
        # The registry's realm is the proxy's URL (the configuration Keyport served says so).
        registry_config = open(os.path.join(root, "registry.yml")).read()
        assert f"realm: {public}/realms/acme/protocol/docker-v2/auth" in registry_config, registry_config
        code, out = reg.skopeo_push(setup, "alice", "team-a/app:1")
        assert code == 0, out
        code, out = reg.skopeo_push(setup, "rita", "team-a/app:2")
        assert code != 0 and "denied" in out.lower(), out

        # A caller's own X-Forwarded-For is not the address Keyport records.
        import ssl
        context = ssl.create_default_context(cafile=cert)
        request = urllib.request.Request(f"{public}/health/live", headers={"X-Forwarded-For": "203.0.113.66", "X-Request-Id": f"via-{proxy}"})
        assert urllib.request.urlopen(request, context=context).status == 200
        deadline = time.time() + 10
        line = ""
        while time.time() < deadline and not line:
            setup.keyport.log.seek(0)
            line = next((l for l in setup.keyport.log.read().splitlines() if f"request_id=via-{proxy}" in l), "")
            time.sleep(0.05)
        assert "client_ip=127.0.0.1" in line and "203.0.113.66" not in line, line
    finally:
        if setup:
            setup.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def test_the_systemd_unit_verifies_and_its_settings_start_keyport():
    root = tempfile.mkdtemp(prefix="kp-systemd-", dir="/tmp")
    try:
        unit = (REPO / "deploy" / "systemd" / "keyport.service").read_text()
        assert "ExecStart=/usr/local/bin/keyport start" in unit
        path = os.path.join(root, "keyport.service")
        with open(path, "w") as f:
            f.write(unit.replace("/usr/local/bin/keyport", keyport_binary()).replace("/etc/keyport/keyport.env", os.path.join(root, "keyport.env")))
        shutil.copy(REPO / "deploy" / "systemd" / "keyport.env", os.path.join(root, "keyport.env"))
        result = subprocess.run([reg.need("systemd-analyze"), "verify", path], capture_output=True, text=True, timeout=60)
        # Only the unit's own findings count (the host's other units are not ours to judge).
        findings = [l for l in (result.stdout + result.stderr).splitlines() if "keyport.service" in l]
        assert findings == [], findings

        # keyport start with the example's settings (on a free port, a private folder).
        settings = dict(l.split("=", 1) for l in (REPO / "deploy" / "systemd" / "keyport.env").read_text().splitlines()
                        if l and not l.startswith("#"))
        port = reg.free_port()
        settings.update({"KEYPORT_HTTP_PORT": str(port), "KEYPORT_DB_PATH": os.path.join(root, "keyport.db"),
                         "KEYPORT_DOCKER_CERTS_DIR": os.path.join(root, "certs")})
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPORT_")}
        log = open(os.path.join(root, "keyport.log"), "w+")
        process = subprocess.Popen([keyport_binary(), "start"], env={**env, **settings}, cwd=root, stdout=log, stderr=log,
                                   preexec_fn=lambda: os.umask(0o077))
        try:
            reg.wait_http(f"http://127.0.0.1:{port}/health/ready")
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready").status == 200
            assert oct(os.stat(os.path.join(root, "keyport.db")).st_mode & 0o777) == "0o600"
        finally:
            process.terminate()
            process.wait(timeout=20)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_backup_then_migrate_block_runs_as_written(keyport):
    backups = tempfile.mkdtemp(prefix="kp-backup-", dir="/tmp")
    try:
        script = "set -euo pipefail\n" + block("sh", after="## Upgrades and migrations")
        env = {**os.environ, "KEYPORT_DB_PATH": os.path.join(keyport.data_dir, "keyport.db"), "BACKUP_DIR": backups,
               "PATH": f"{os.path.dirname(keyport_binary())}:{os.environ['PATH']}"}
        # Taken while the server runs, as the page says.
        result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok" in result.stdout.splitlines() and "schema at migration" in result.stdout, result.stdout
        (copy,) = [os.path.join(backups, name) for name in os.listdir(backups)]
        realms = subprocess.run(["sqlite3", copy, "SELECT name FROM realms"], capture_output=True, text=True).stdout.split()
        assert "master" in realms
    finally:
        shutil.rmtree(backups, ignore_errors=True)
