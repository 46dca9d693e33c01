"""Connection hygiene against the real binary: a slowloris of 2,000 half-sent requests against a
1,024-file limit leaves /health/ready answering, and a client that aborts its body is no 500."""
import os
import resource
import socket
import tempfile
import time
import urllib.request

import pytest

from conftest import Keyport


def limit_files_to_1024():
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.fixture
def limited_keyport():
    with tempfile.TemporaryDirectory(prefix="keyport-e2e-") as data_dir:
        server = Keyport(data_dir, preexec_fn=limit_files_to_1024)
        yield server
        server.stop()


def half_open(port: int, count: int) -> list[socket.socket]:
    """`count` connections that each send a request head without its final blank line."""
    sockets = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /health/ready HTTP/1.1\r\nHost: keyport\r\nX-Slow: 1\r\n")
            sockets.append(s)
        except OSError:
            s.close()
    return sockets


def test_a_slowloris_of_2000_connections_does_not_lock_out_health_checks(limited_keyport):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2300:
        pytest.skip(f"this process may open only {hard} files; the test needs 2,300")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2300) if hard == resource.RLIM_INFINITY else min(hard, max(soft, 2300)), hard))
    port = limited_keyport.port
    attackers = half_open(port, 2000)
    try:
        assert len(attackers) >= 1000, f"only {len(attackers)} connections were accepted"
        # Every probe answers, promptly enough for a health check, while the flood holds.
        for _ in range(10):
            started = time.time()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=5) as response:
                assert response.status == 200
            assert time.time() - started < 5
        # The server stays under its file limit: the oldest half-sent requests were closed.
        closed = 0
        for s in attackers:
            s.settimeout(0.01)
            try:
                if s.recv(1) == b"":
                    closed += 1
            except socket.timeout:
                pass
            except OSError:
                closed += 1
        assert closed > 0
    finally:
        for s in attackers:
            s.close()
    assert limited_keyport.process.poll() is None
    limited_keyport.log.seek(0)
    log = limited_keyport.log.read()
    assert "status=500" not in log


def test_a_client_that_aborts_its_body_is_not_a_server_error(keyport):
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", keyport.port), timeout=5)
        s.sendall(b"POST /realms/master/protocol/openid-connect/token HTTP/1.1\r\nHost: keyport\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=pa")
        s.close()
    time.sleep(0.5)  # the server notices the reset; nothing to wait on from outside
    with urllib.request.urlopen(f"{keyport.url}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'status="500"' not in metrics
    keyport.log.seek(0)
    assert "status=500" not in keyport.log.read()
