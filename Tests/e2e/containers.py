"""Containers without pulling anything: a private dockerd (vfs storage, no bridge, its own socket
and data root) to build and run images in; scripts/compose-images makes the images."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

DOCKER = "/usr/bin/docker"  # Debian's docker.io CLI (it builds with BuildKit without buildx)


class PrivateDockerd:
    """dockerd as this machine can run it: vfs storage, no default bridge, no iptables; user
    networks (docker-compose's project network) and published ports work."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="kp-dockerd-", dir="/tmp")
        self.socket = os.path.join(self.root, "docker.sock")
        self.env = dict(os.environ, DOCKER_HOST=f"unix://{self.socket}", DOCKER_CONFIG=os.path.join(self.root, "client"),
                        DOCKER_BUILDKIT="1")
        self.log = open(os.path.join(self.root, "dockerd.log"), "w")
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        self.process = subprocess.Popen([dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
                                         "--data-root", os.path.join(self.root, "data"), "--exec-root", os.path.join(self.root, "exec"),
                                         "--pidfile", os.path.join(self.root, "docker.pid"), "-H", f"unix://{self.socket}"],
                                        stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.time() + 60
        while self.docker("version")[0] != 0:
            if time.time() > deadline or self.process.poll() is not None:
                self.log.flush()
                pytest.fail("dockerd did not start: " + open(os.path.join(self.root, "dockerd.log")).read()[-2000:])
            time.sleep(0.2)

    def docker(self, *args, input=None, timeout=600):
        result = subprocess.run([DOCKER, *args], env=self.env, capture_output=True, text=True, input=input, timeout=timeout)
        return result.returncode, result.stdout + result.stderr

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        subprocess.run(["umount", "-R", os.path.join(self.root, "exec")], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
