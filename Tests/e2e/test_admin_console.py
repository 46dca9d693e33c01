"""The admin console in headless Chromium, walked as an administrator would.

The server admin signs in at /admin/master/console/ (the authorization code flow with PKCE as
`security-admin-console`), opens a realm, finds and creates users, reads the registry's access
matrix, asks the access tester why a user may push, revokes a personal access token from the
token inventory (and the registry's token endpoint refuses it at once), reads the events, and
signs out. A delegated `manage-users` admin of the realm signs in at the realm's console and is
refused what the API refuses it. Values from the server are shown as text, never run; axe finds
no serious violation. Every page is kept as a screenshot under .build/e2e-artifacts/console/.
"""
import base64
import datetime
import json
import time
import urllib.parse

import pytest
import requests

from conftest import ADMIN_PASSWORD, REPO
from console_pages import banner, choose, click_button, click_link, main_text, no_serious_violations, screenshot, sign_in, wait_for, wait_text

ARTIFACTS = REPO / ".build" / "e2e-artifacts" / "console"
SERVICE = "registry.acme.test"


class Admin:
    def __init__(self, base):
        self.base = base
        self.token = requests.post(f"{base}/realms/master/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": ADMIN_PASSWORD}).json()["access_token"]

    def call(self, method, path, **kwargs):
        response = requests.request(method, f"{self.base}/admin/realms{path}", headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def id_of(self, path, key, value):
        return next(item["id"] for item in self.call("GET", path, params={"max": 1000}).json() if item.get(key) == value)


@pytest.fixture
def realm(keyport):
    """acme: a registry with a granting role held through a group, alice with a token, helpdesk with manage-users."""
    admin = Admin(keyport.url)
    admin.call("POST", "", json={"realm": "acme", "enabled": True, "dockerV2Enabled": True, "adminEventsEnabled": True})
    admin.call("POST", "/acme/clients", json={"clientId": SERVICE, "protocol": "docker-v2"})
    registry = admin.id_of("/acme/clients", "clientId", SERVICE)
    admin.call("POST", f"/acme/clients/{registry}/roles", json={"name": "team-a-push", "attributes": {"docker.grant": ["repository:team-a/*:pull,push"]}})
    role = admin.call("GET", f"/acme/clients/{registry}/roles/team-a-push").json()
    admin.call("POST", "/acme/groups", json={"name": "developers"})
    admin.call("POST", "/acme/groups", json={"name": "ops"})
    ops = admin.id_of("/acme/groups", "name", "ops")
    admin.call("POST", f"/acme/groups/{ops}/children", json={"name": "oncall"})
    group = admin.id_of("/acme/groups", "name", "developers")
    admin.call("POST", f"/acme/groups/{group}/role-mappings/clients/{registry}", json=[role])
    admin.call("POST", "/acme/users", json={"username": "alice", "enabled": True, "email": "alice@acme.test",
                                             "firstName": "<img src=x onerror=alert(1)>", "lastName": "Liddell",
                                             "credentials": [{"type": "password", "value": "alice-pw-1", "temporary": False}]})
    alice = admin.call("GET", "/acme/users", params={"username": "alice", "exact": "true"}).json()[0]["id"]
    admin.call("PUT", f"/acme/users/{alice}/groups/{group}")
    pat = admin.call("POST", f"/acme/users/{alice}/personal-access-tokens", json={"name": "laptop", "client": SERVICE}).json()["token"]
    admin.call("POST", "/acme/users", json={"username": "helpdesk", "enabled": True,
                                             "credentials": [{"type": "password", "value": "helpdesk-pw-1", "temporary": False}]})
    helpdesk = admin.call("GET", "/acme/users", params={"username": "helpdesk", "exact": "true"}).json()[0]["id"]
    management = admin.id_of("/acme/clients", "clientId", "realm-management")
    manage_users = admin.call("GET", f"/acme/clients/{management}/roles/manage-users").json()
    admin.call("POST", f"/acme/users/{helpdesk}/role-mappings/clients/{management}", json=[manage_users])
    # A composite realm role holding the registry role; two failed logins of alice (locked after 2).
    admin.call("POST", "/acme/roles", json={"name": "release-manager", "description": "ships images"})
    admin.call("POST", "/acme/roles/release-manager/composites", json=[role])
    admin.call("PUT", "/acme", json={"bruteForceProtected": True, "failureFactor": 2})
    for _ in range(2):
        requests.post(f"{admin.base}/realms/acme/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli", "username": "alice", "password": "wrong-pw"})
    return {"admin": admin, "registry": registry, "pat": pat, "alice": alice}


def shot(driver, name):
    screenshot(driver, ARTIFACTS, name)


def registry_token(keyport, user, password):
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return requests.get(f"{keyport.url}/realms/acme/protocol/docker-v2/auth",
                        params={"service": SERVICE, "scope": "repository:team-a/app:pull"}, headers={"Authorization": f"Basic {auth}"})


def test_the_server_admin_manages_a_registry_realm_in_the_console(keyport, realm, chromium):
    from selenium.webdriver.common.by import By
    driver = chromium
    console = f"{keyport.hostname}/admin/master/console/"
    driver.get(console)
    # Not signed in: the realm's login page, through the authorization endpoint with PKCE.
    wait_for(driver, lambda d: "/protocol/openid-connect/auth" in d.current_url or "/login-actions/" in d.current_url)
    query = urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)
    if "code_challenge_method" in query:
        assert query["code_challenge_method"] == ["S256"] and query["client_id"] == ["security-admin-console"]
    shot(driver, "01-sign-in")
    sign_in(driver, "admin", ADMIN_PASSWORD)
    wait_text(driver, "Realms")
    assert driver.current_url.startswith(console) and "code=" not in driver.current_url, "the code leaves the address bar"
    assert "acme" in main_text(driver)
    # The tokens are in the page's memory, nowhere a later script could read them.
    stored = driver.execute_script("return JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))")
    assert "eyJ" not in stored, stored
    shot(driver, "02-realms")

    # A new registry realm, its registry client and a role with a grant, all from the console.
    driver.find_element(By.CSS_SELECTOR, "input[name=realm]").send_keys("shop")
    driver.find_element(By.CSS_SELECTOR, "input[name=docker]").click()
    click_button(driver, "Create realm")
    wait_for(driver, lambda d: "Realm shop created." in banner(d))
    assert realm["admin"].call("GET", "/shop").json()["dockerV2Enabled"] is True
    driver.get(f"{console}#/r/shop/registry")
    wait_text(driver, "No registry client yet.")
    driver.find_element(By.CSS_SELECTOR, "input[name=service]").send_keys("registry.shop.test")
    click_button(driver, "Add registry client")
    click_link(driver, "registry.shop.test")
    click_link(driver, "Grants")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=grant]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("pushers")
    driver.find_element(By.CSS_SELECTOR, "input[name=grant]").send_keys("repository:shop/*:pull,push")
    click_button(driver, "Add role")
    wait_for(driver, lambda d: "Role pushers created." in banner(d))
    click_link(driver, "Who may do what")
    wait_text(driver, "repository:shop/*")
    shot(driver, "02b-new-registry-realm")
    driver.get(f"{console}#/")
    wait_text(driver, "shop")

    # Users: the list, a search, a new user; a name holding markup shows as text.
    click_link(driver, "acme")
    wait_text(driver, "alice")
    assert "<img src=x onerror=alert(1)> Liddell" in main_text(driver)
    assert not driver.find_elements(By.CSS_SELECTOR, "#app img"), "markup from the server is never run"
    no_serious_violations(driver)
    shot(driver, "03-users")
    search = driver.find_element(By.CSS_SELECTOR, "input[type=search]")
    search.send_keys("help")
    click_button(driver, "Search")
    wait_for(driver, lambda d: "helpdesk" in main_text(d) and "alice" not in main_text(d))
    driver.get(f"{console}#/r/acme/users")
    wait_text(driver, "alice")
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("bob")
    click_button(driver, "Add user")
    wait_text(driver, "bob")
    assert "User bob created." in driver.find_element(By.ID, "banner").text

    # A user's page: groups and tokens; the status toggles through the API.
    click_link(driver, "alice")
    wait_text(driver, "Personal access tokens")
    assert "/developers" in main_text(driver) and "laptop" in main_text(driver)
    assert "team-a-push registry.acme.test group /developers" in main_text(driver), "each effective role says where it comes from"
    shot(driver, "04-user")
    # Locked after two failed logins: the page says so, and the administrator unlocks her.
    assert "locked" in main_text(driver) and "2 since the last success" in main_text(driver), main_text(driver)
    click_button(driver, "Unlock")
    wait_for(driver, lambda d: "alice is unlocked." in banner(d))
    wait_text(driver, "0 since the last success")  # the page drawn again
    assert realm["admin"].call("GET", f"/acme/attack-detection/brute-force/users/{realm['alice']}").json()["numFailures"] == 0
    # Role mappings: map the composite realm role; its registry role shows as held through it.
    choose(driver, "role", "release-manager")
    click_button(driver, "Map role")
    wait_for(driver, lambda d: "Role release-manager mapped." in banner(d))
    wait_text(driver, "→ composite")
    shot(driver, "04a-user-roles")
    # Group membership: join a nested group from the list, through the API.
    choose(driver, "group", "/ops/oncall")
    click_button(driver, "Join")
    wait_for(driver, lambda d: "alice joined /ops/oncall." in banner(d))
    wait_text(driver, "/ops/oncall")

    # Roles: the composite opens into what it holds.
    click_link(driver, "Roles")
    wait_text(driver, "release-manager")
    driver.find_element(By.XPATH, "//summary[contains(., 'release-manager')]").click()
    wait_text(driver, f"{SERVICE} / team-a-push")
    no_serious_violations(driver)
    shot(driver, "04b-roles-tree")

    # The registry: the matrix shows the grant with the group that holds it.
    click_link(driver, "Registry access")
    click_link(driver, SERVICE)
    wait_text(driver, "team-a/*")
    text = main_text(driver)
    assert "repository:team-a/*" in text and "pull, push" in text and "/developers" in text, text
    no_serious_violations(driver)
    shot(driver, "05-matrix")

    # The grant editor: the server's parser answers as the administrator types.
    click_link(driver, "Grants")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "textarea[name=grants]"))
    area = driver.find_element(By.CSS_SELECTOR, "textarea[name=grants]")
    area.send_keys("\nrepository:team-a/*:pull,fly")
    wait_text(driver, "unknown action 'fly'")
    assert "✓ repository team-a/*: pull, push" in main_text(driver)
    shot(driver, "05b-grants")

    # The registry's settings: identity tokens off, saved through the API.
    click_link(driver, "Settings")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=identityTokens]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=identityTokens]").click()
    driver.find_element(By.ID, "f-anonymous").send_keys("repository:public/*:pull")
    no_serious_violations(driver)
    shot(driver, "05c-registry-settings")
    click_button(driver, "Save")
    wait_for(driver, lambda d: f"Settings of {SERVICE} saved." in banner(d))
    attributes = realm["admin"].call("GET", f"/acme/clients/{realm['registry']}").json()["attributes"]
    assert attributes["docker.identity.tokens"] == "false" and attributes["docker.anonymous.grant"] == "repository:public/*:pull", attributes

    # The access tester says which grant, which role and which group.
    click_link(driver, "Access tester")
    wait_for(driver, lambda d: d.find_elements(By.ID, "tester-scopes"))
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("alice")
    driver.find_element(By.ID, "tester-scopes").send_keys("repository:team-a/app:pull,push,delete")
    click_button(driver, "Test")
    wait_text(driver, "Decisions")
    text = main_text(driver)
    assert "repository:team-a/*:pull,push via team-a-push → pull, push" in text, text
    assert "group /developers" in text, text
    shot(driver, "06-tester")

    # The token inventory: alice's token, revoked here, is refused by the registry's door at once.
    assert registry_token(keyport, "alice", realm["pat"]).status_code == 200
    click_link(driver, "Tokens")
    wait_text(driver, "laptop")
    shot(driver, "07-tokens")
    # Revoking asks first; saying no keeps the token.
    click_button(driver, "Revoke")
    wait_for(driver, lambda d: d.switch_to.alert)
    assert "laptop" in driver.switch_to.alert.text
    driver.switch_to.alert.dismiss()
    assert registry_token(keyport, "alice", realm["pat"]).status_code == 200
    click_button(driver, "Revoke")
    wait_for(driver, lambda d: d.switch_to.alert)
    driver.switch_to.alert.accept()
    wait_text(driver, "No token.")
    assert registry_token(keyport, "alice", realm["pat"]).status_code == 401

    # A crafted link with `..` as an id never reaches another resource.
    driver.get(f"{console}#/r/acme/users/%2e%2E")
    wait_text(driver, "Not a valid name or id")
    driver.get(f"{console}#/r/acme/registry")
    wait_text(driver, SERVICE)

    # CI identities: trust an issuer, add a client for one pipeline; values shown as text.
    click_link(driver, "CI identities")
    wait_text(driver, "No identity provider yet.")
    for name, value in [("alias", "github"), ("displayName", "GitHub <b>Actions</b>"), ("issuer", "https://token.actions.githubusercontent.com"),
                        ("jwksUrl", "https://token.actions.githubusercontent.com/.well-known/jwks")]:
        driver.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(value)
    click_button(driver, "Trust this issuer")
    wait_for(driver, lambda d: "Identity provider github added." in banner(d))
    wait_text(driver, "GitHub <b>Actions</b>")
    for name, value in [("clientId", "ci-acme-app"), ("subject", "repo:acme/app:ref:refs/heads/main"), ("claims", '{"repository_id": "123456789"}')]:
        driver.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(value)
    click_button(driver, "Add CI client")
    wait_for(driver, lambda d: "Client ci-acme-app created" in banner(d))
    wait_text(driver, "repository_id = 123456789")
    made = realm["admin"].call("GET", "/acme/clients", params={"clientId": "ci-acme-app"}).json()[0]
    assert made["clientAuthenticatorType"] == "federated-jwt" and made["attributes"]["jwt.credential.sub"] == "repo:acme/app:ref:refs/heads/main", made
    assert "repo:acme/app:ref:refs/heads/main" in main_text(driver)
    no_serious_violations(driver)
    shot(driver, "07c-ci-identities")

    # Events: the logins above are there, filterable; admin events say who changed what.
    click_link(driver, "Events")
    wait_text(driver, "LOGIN")
    shot(driver, "08-events")
    # Registry events: what the registry reported (an envelope as distribution sends it), the
    # credential inferred from alice's password login above, the registry's text shown as text.
    secret = realm["admin"].call("POST", f"/acme/clients/{realm['registry']}/docker-v2-notifications").json()["secret"]
    assert registry_token(keyport, "alice", "alice-pw-1").status_code == 200
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    envelope = {"events": [{"id": "e-1", "timestamp": stamp, "action": "push", "actor": {"name": "alice"},
                            "target": {"repository": "team-a/app", "tag": "<b>v1</b>", "digest": "sha256:" + "ab" * 32, "size": 1},
                            "request": {"id": "r-1", "useragent": "docker/27"}}]}
    answer = requests.post(f"{keyport.url}/realms/acme/protocol/docker-v2/notifications", params={"service": SERVICE},
                           json=envelope, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200 and answer.json()["stored"] == 1, answer.text
    click_link(driver, "Registry events")
    wait_text(driver, "team-a/app:<b>v1</b>")
    text = main_text(driver)
    assert "password (inferred)" in text and "alice" in text and "whoever holds a registry's notification secret can report" in text, text
    shot(driver, "08a-registry-events")
    choose(driver, "action", "pull")
    click_button(driver, "Filter")
    wait_text(driver, "No registry event matches.")
    click_link(driver, "Admin events")
    wait_text(driver, "GROUP_MEMBERSHIP")
    assert "DELETE" in main_text(driver), "the token revoked above"
    shot(driver, "08b-admin-events")

    # Realm settings: a change goes through the API.
    click_link(driver, "Realm settings")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=displayName]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=displayName]").send_keys("ACME Registry")
    lifespan = driver.find_element(By.CSS_SELECTOR, "input[name=personalAccessTokenMaxLifespan]")
    lifespan.clear()
    lifespan.send_keys("7776000")
    click_button(driver, "Save")
    wait_for(driver, lambda d: "Realm settings saved." in banner(d))
    saved = realm["admin"].call("GET", "/acme").json()
    assert saved["displayName"] == "ACME Registry" and saved["personalAccessTokenMaxLifespan"] == 7776000, saved
    # Keys: the server takes the rotation's next step and says what comes before the one after.
    wait_text(driver, "Signing keys")
    click_button(driver, "RS256: next rotation step")
    wait_for(driver, lambda d: "Added RS256 key" in banner(d))
    assert "restart the registry" in driver.find_element(By.ID, "banner").text
    wait_for(driver, lambda d: "passive" in main_text(d))
    shot(driver, "09-settings")

    # Sign out: back to the login page; the console's token no longer works.
    click_button(driver, "Sign out", within="logout-area")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    shot(driver, "10-signed-out")
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
    assert not errors, errors


def test_an_admin_connects_a_directory_and_gives_its_group_access(keyport, realm, chromium, tmp_path):
    """The Directories page against a throwaway slapd: a wrong password is named by the test, the
    directory added, everyone synced, a group mapper added and its groups synced before anyone
    signs in; then the directory's person signs in at the registry with their directory password."""
    from selenium.webdriver.common.by import By
    from test_ldap import ADMIN_DN, ADMIN_PW, SUFFIX, Slapd
    slapd = Slapd(str(tmp_path))
    try:
        driver = chromium
        console = f"{keyport.hostname}/admin/master/console/"
        driver.get(f"{console}#/r/acme/directories")
        sign_in(driver, "admin", ADMIN_PASSWORD)
        wait_text(driver, "No directory yet")
        for name, value in [("name", "corp-ldap"), ("connectionUrl", slapd.url), ("bindDn", ADMIN_DN), ("bindCredential", "not-the-password"),
                            ("usersDn", f"ou=people,{SUFFIX}")]:
            driver.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(value)
        click_button(driver, "Test connection")
        wait_for(driver, lambda d: "refused" in banner(d).lower())
        assert "not-the-password" not in banner(driver)
        driver.find_element(By.CSS_SELECTOR, "input[name=bindCredential]").clear()
        driver.find_element(By.CSS_SELECTOR, "input[name=bindCredential]").send_keys(ADMIN_PW)
        click_button(driver, "Test connection")
        wait_for(driver, lambda d: "accepted the bind DN" in banner(d))
        click_button(driver, "Add directory")
        wait_for(driver, lambda d: "added" in banner(d) or "error" in d.find_element(By.ID, "banner").get_attribute("class"))
        assert "Directory corp-ldap added" in banner(driver), banner(driver)
        shot(driver, "14-directories")
        no_serious_violations(driver)

        click_link(driver, "corp-ldap")
        wait_text(driver, "Sync all people")
        click_button(driver, "Test connection")
        wait_for(driver, lambda d: "accepted the bind DN" in banner(d))
        click_button(driver, "Sync all people")
        wait_for(driver, lambda d: "2 imported users" in banner(d))
        driver.find_element(By.CSS_SELECTOR, "input[name=groupsDn]").send_keys(f"ou=groups,{SUFFIX}")
        click_button(driver, "Add group mapper")
        wait_for(driver, lambda d: "Mapper groups added" in banner(d))
        click_button(driver, "Sync groups")
        wait_for(driver, lambda d: "1 made" in banner(d))
        wait_text(driver, "groups under ou=groups")
        shot(driver, "15-directory")
        no_serious_violations(driver)

        # The synced group gets the push role; zed, a member in the directory, pushes with his
        # directory password at his first sign-in.
        admin = realm["admin"]
        builders = admin.id_of("/acme/groups", "name", "builders")
        role = admin.call("GET", f"/acme/clients/{realm['registry']}/roles/team-a-push").json()
        admin.call("POST", f"/acme/groups/{builders}/role-mappings/clients/{realm['registry']}", json=[role])
        auth = base64.b64encode(b"zed:zed-dir-pw").decode()
        answer = requests.get(f"{keyport.url}/realms/acme/protocol/docker-v2/auth", headers={"Authorization": f"Basic {auth}"},
                              params={"service": SERVICE, "scope": "repository:team-a/app:pull,push"})
        assert answer.status_code == 200, answer.text
        payload = answer.json()["token"].split(".")[1]
        access = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["access"]
        assert access == [{"type": "repository", "name": "team-a/app", "actions": ["pull", "push"]}], access
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "favicon" not in entry["message"]]
        assert not [e for e in errors if "testLDAPConnection" not in e["message"]], errors
    finally:
        slapd.stop()


def test_a_delegated_admin_sees_only_what_the_api_allows(keyport, realm, chromium):
    driver = chromium
    driver.get(f"{keyport.hostname}/admin/acme/console/")
    sign_in(driver, "helpdesk", "helpdesk-pw-1")
    # A realm's console opens on its users.
    wait_text(driver, "alice")
    assert "#/r/acme/users" in driver.current_url
    shot(driver, "11-delegated-users")
    click_link(driver, "Realm settings")
    wait_text(driver, "You may not do this")
    shot(driver, "12-delegated-settings-refused")
    click_link(driver, "Registry access")
    wait_text(driver, "You may not do this")
    # On a user's page the roles offered are those it may map: never realm-admin.
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    click_link(driver, "Users")
    click_link(driver, "alice")
    wait_text(driver, "Role mappings")
    container = driver.find_element(By.CSS_SELECTOR, "select[name=container]")
    container.click()
    time.sleep(0.5)  # the clients list, if this administrator may read it
    options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "select[name=container] option")]
    if "realm-management" in options:
        Select(container).select_by_visible_text("realm-management")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "select[name=role] option")) > 1
                 or "No role you may map" in d.find_element(By.CSS_SELECTOR, "select[name=role]").text)
    offered = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "select[name=role] option")]
    assert "realm-admin" not in offered and "manage-realm" not in offered, offered
    # Forced through the API with its own token, the grant is refused too.
    token = requests.post(f"{keyport.url}/realms/acme/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "admin-cli", "username": "helpdesk", "password": "helpdesk-pw-1"}).json()["access_token"]
    admin = realm["admin"]
    management = admin.id_of("/acme/clients", "clientId", "realm-management")
    realm_admin = admin.call("GET", f"/acme/clients/{management}/roles/realm-admin").json()
    forced = requests.post(f"{keyport.url}/admin/realms/acme/users/{realm['alice']}/role-mappings/clients/{management}",
                           headers={"Authorization": f"Bearer {token}"}, json=[realm_admin])
    assert forced.status_code == 403, forced.text
    shot(driver, "13-delegated-user-roles")


def test_the_console_page_is_locked_down(keyport):
    page = requests.get(f"{keyport.url}/admin/master/console/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert page.headers["X-Frame-Options"] == "DENY" and "<script" in page.text and "onerror" not in page.text
    assert requests.get(f"{keyport.url}/admin/nowhere/console/").status_code == 404
    assert requests.get(f"{keyport.url}/admin/master/console/console.html").status_code == 404
    assert requests.get(f"{keyport.url}/admin/master/console/../../../etc/passwd").status_code == 404
    redirect = requests.get(f"{keyport.url}/admin", allow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("/admin/master/console/")
