"""People from a real slapd push and pull through a real registry with the directory's password.

A throwaway slapd (Debian's, started here and killed after) holds zed and yan under ou=people and
the group builders under ou=groups. The registry's realm gets an LDAP provider and a group mapper
through python-keycloak (`create_component`), syncs everyone (`sync_users`), and an admin gives the
directory's group `/ldap/builders` the push role. skopeo pushes and pulls as zed with his
directory password; yan, not in the group, cannot push; once zed leaves the group in the
directory his next push is refused; with the directory down his login answers 503 while a local
user pushes as before.
"""
import base64
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from test_registry import PASSWORD, Setup, free_port, need, skopeo_pull, skopeo_push

SUFFIX = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PW = "slapd-admin-secret"


class Slapd:
    def __init__(self, root):
        self.root = os.path.join(root, "slapd")
        os.makedirs(os.path.join(self.root, "data"))
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        config = os.path.join(self.root, "slapd.conf")
        with open(config, "w") as f:
            f.write("\n".join([
                "include /etc/ldap/schema/core.schema", "include /etc/ldap/schema/cosine.schema",
                "include /etc/ldap/schema/inetorgperson.schema", "include /etc/ldap/schema/nis.schema",
                f"pidfile {self.root}/slapd.pid", "modulepath /usr/lib/ldap", "moduleload back_mdb",
                "database mdb", "maxsize 104857600", f'suffix "{SUFFIX}"', f'rootdn "{ADMIN_DN}"', f"rootpw {ADMIN_PW}",
                f"directory {self.root}/data",
                "access to attrs=userPassword by anonymous auth by self write by * none", "access to * by * read", ""]))
        people = "".join(f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid.title()} Doe\n"
                         f"sn: Doe\ngivenName: {uid.title()}\nmail: {uid}@corp.test\nuserPassword: {uid}-dir-pw\n\n" for uid in ("zed", "yan"))
        ldif = (f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
                f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n"
                f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n\n" + people +
                f"dn: cn=builders,ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: builders\nmember: uid=zed,ou=people,{SUFFIX}\n"
                f"member: cn=nobody,{SUFFIX}\n\n")
        data = os.path.join(self.root, "data.ldif")
        with open(data, "w") as f:
            f.write(ldif)
        subprocess.run([need("slapadd"), "-q", "-f", config, "-l", data], check=True, capture_output=True)
        self.process = subprocess.Popen([need("slapd"), "-d", "0", "-f", config, "-h", f"{self.url}/"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while subprocess.run([need("ldapsearch"), "-x", "-H", self.url, "-b", SUFFIX, "-s", "base"], capture_output=True).returncode != 0:
            assert time.time() < deadline, "slapd did not start"
            time.sleep(0.1)

    def modify(self, ldif):
        subprocess.run([need("ldapmodify"), "-x", "-H", self.url, "-D", ADMIN_DN, "-w", ADMIN_PW], input=ldif.encode(),
                       check=True, capture_output=True)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def directory_and_registry():
    root = tempfile.mkdtemp(prefix="kp-ldap-", dir="/tmp")
    slapd = Slapd(root)
    # No remembered passwords: what the directory says counts at the very next login.
    registry = Setup(root, env={"KEYPORT_CREDENTIAL_CACHE_SECONDS": "0"})
    yield slapd, registry
    registry.close()
    slapd.stop()
    shutil.rmtree(root, ignore_errors=True)


def token_status(setup, user, password, scope="repository:team-a/app:pull,push"):
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"{setup.keyport.url}/realms/acme/protocol/docker-v2/auth?service={setup.service}&scope={scope}",
                                     headers={"Authorization": f"Basic {credentials}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_directory_people_push_and_pull_with_the_directory_password(directory_and_registry):
    slapd, registry = directory_and_registry
    admin = registry.admin
    admin.create_group({"name": "ldap"})
    provider = admin.create_component({
        "name": "corp-ldap", "providerId": "ldap", "providerType": "org.keycloak.storage.UserStorageProvider",
        "parentId": admin.get_realm("acme")["id"],
        "config": {"vendor": ["other"], "connectionUrl": [slapd.url], "bindDn": [ADMIN_DN], "bindCredential": [ADMIN_PW],
                   "editMode": ["READ_ONLY"], "usersDn": [f"ou=people,{SUFFIX}"], "usernameLDAPAttribute": ["uid"],
                   "rdnLDAPAttribute": ["uid"], "uuidLDAPAttribute": ["entryUUID"],
                   "userObjectClasses": ["inetOrgPerson, organizationalPerson"], "trustEmail": ["true"]}})
    admin.create_component({"name": "groups", "providerId": "group-ldap-mapper", "parentId": provider,
                            "providerType": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper",
                            "config": {"groups.dn": [f"ou=groups,{SUFFIX}"], "groups.path": ["/ldap"]}})
    stored = admin.get_component(provider)
    assert stored["config"]["bindCredential"] == ["**********"]
    mappers = admin.get_components({"parent": provider, "type": "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"})
    assert {"username", "email", "groups"} <= {m["name"] for m in mappers}

    # Keycloak's sync, as python-keycloak calls it: both people imported.
    result = admin.sync_users(provider, "triggerFullSync")
    assert result["added"] == 2 and result["failed"] == 0, result
    zed = admin.get_user_id("zed")
    assert admin.get_user(zed)["email"] == "zed@corp.test"

    # zed's first sign-in makes the directory's group; an admin gives it the push role.
    assert token_status(registry, "zed", "zed-dir-pw") == 200
    builders = admin.get_group_by_path("/ldap/builders")
    admin.assign_group_client_roles(builders["id"], registry.client, [admin.get_client_role(registry.client, "team-a-dev")])

    code, out = skopeo_push(registry, "zed", "team-a/zed-app:1", password="zed-dir-pw")
    assert code == 0, out
    code, out = skopeo_pull(registry, "zed", "team-a/zed-app:1", password="zed-dir-pw")
    assert code == 0, out
    code, out = skopeo_push(registry, "zed", "team-a/zed-app:2", password="not-his-password")
    assert code != 0
    code, out = skopeo_push(registry, "yan", "team-a/yan-app:1", password="yan-dir-pw")
    assert code != 0, out

    # Out of the group in the directory: the next push is refused.
    slapd.modify(f"dn: cn=builders,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=zed,ou=people,{SUFFIX}\n")
    code, out = skopeo_push(registry, "zed", "team-a/zed-app:3", password="zed-dir-pw")
    assert code != 0, out
    assert admin.get_user_groups(zed) == []

    # The directory down: zed's login is a 503; a local user pushes as before.
    slapd.stop()
    assert token_status(registry, "zed", "zed-dir-pw") == 503
    code, out = skopeo_push(registry, "alice", "team-a/local-app:1", password=PASSWORD)
    assert code == 0, out
