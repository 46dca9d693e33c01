"""Containers without pulling anything: a Debian bookworm base made with debootstrap (as the
official slim image is), and a private dockerd (vfs storage, no bridge, its own socket and data
root) to build and run images in."""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import REPO

CACHE = REPO / ".build" / "compose-cache"
DOCKER = "/usr/bin/docker"  # Debian's docker.io CLI (it builds with BuildKit without buildx)

# What Debian's official slim image adds to a minbase root (debuerreotype's "slimify"): apt keeps
# no caches, dpkg installs no documentation, manuals or translations.
APT_CLEAN = """DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
"""
DPKG_SLIM = """path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
"""


def debian_mirror() -> str:
    """The mirror apt uses on this machine (the same registry debootstrap must reach)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            text = pathlib.Path(path).read_text()
        except OSError:
            continue
        found = re.search(r"^URIs:\s*(\S+)", text, flags=re.M) or re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", text, flags=re.M)
        if found:
            return found.group(1)
    return "http://deb.debian.org/debian"


def debian_base_tar() -> pathlib.Path:
    """debian:bookworm-slim, made here: debootstrap --variant=minbase, then slimmed. Cached in
    .build/compose-cache (a fresh clone makes it in about half a minute)."""
    cached = CACHE / "bookworm-slim.tar"
    if cached.exists():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    root = tempfile.mkdtemp(prefix="kp-rootfs-", dir="/tmp")
    try:
        debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
        result = subprocess.run([debootstrap, "--variant=minbase", "bookworm", root, debian_mirror()],
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        for folder in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/info"):
            path = os.path.join(root, folder)
            for entry in os.listdir(path) if os.path.isdir(path) else []:
                full = os.path.join(path, entry)
                if entry in ("lock", "partial"):
                    continue
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.remove(full)
        os.chmod(root, 0o755)  # the image's / (mkdtemp made it 0700: no other user could cross it)
        pathlib.Path(root, "etc/apt/apt.conf.d/docker-clean").write_text(APT_CLEAN)
        pathlib.Path(root, "etc/dpkg/dpkg.cfg.d/docker").write_text(DPKG_SLIM)
        partial = cached.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(root, arcname=".")
        partial.rename(cached)
        return cached
    finally:
        shutil.rmtree(root, ignore_errors=True)


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
