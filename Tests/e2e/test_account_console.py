"""The account console in headless Chromium, with a real registry, walked as its people would.

The server admin makes a group holding the registry role and a user, carol, in it, all in the
admin console, and checks the matrix and the access tester. carol signs in at
/realms/acme/account/ (the authorization code flow with PKCE as `account-console`), makes a personal access token for the registry (its secret shown once),
pushes and pulls with it through skopeo, revokes the identity token a `docker login` left, and
sees her sessions. The server admin then revokes her token in the admin console: the next pull
is refused and the events page shows the refusal. Last, carol changes her password: the
current one first, then the new one; the registry takes only the new one. Every page is kept
as a screenshot under .build/e2e-artifacts/account/.
"""
import base64
import shutil
import tempfile
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, REPO
from console_pages import banner, choose, click_button, click_link, main_text, no_serious_violations, screenshot, sign_in, wait_for, wait_text
from test_registry import PASSWORD, SERVICE, Setup, skopeo_pull, skopeo_push

ARTIFACTS = REPO / ".build" / "e2e-artifacts" / "account"


def shot(driver, name):
    screenshot(driver, ARTIFACTS, name)


@pytest.fixture
def registry():
    root = tempfile.mkdtemp(prefix="kp-acct-", dir="/tmp")
    s = Setup(root)
    yield s
    s.close()
    shutil.rmtree(root, ignore_errors=True)


def test_a_user_manages_its_own_registry_credentials(registry, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    driver = chromium
    base = registry.keyport.hostname
    admin = f"{base}/admin/master/console/"

    # The server admin, in the admin console: a group holding the registry role, a new user in it.
    driver.get(f"{admin}#/r/acme/groups")
    sign_in(driver, "admin", ADMIN_PASSWORD)
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=name]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("builders")
    click_button(driver, "Add group")
    click_link(driver, "/builders")
    wait_text(driver, "No member.")
    choose(driver, "container", SERVICE)
    choose(driver, "role", "team-a-dev")
    click_button(driver, "Map role")
    wait_for(driver, lambda d: "Role team-a-dev mapped." in banner(d))
    wait_for(driver, lambda d: "team-a-dev" in main_text(d) and SERVICE in main_text(d))
    shot(driver, "00a-admin-group")
    click_link(driver, "Users")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=username]"))
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("carol")
    click_button(driver, "Add user")
    click_link(driver, "carol")
    wait_text(driver, "Set password")
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[name=temporary]").click()
    click_button(driver, "Set password")
    wait_for(driver, lambda d: "Password set." in banner(d))
    wait_text(driver, "Role mappings")
    choose(driver, "group", "/builders")
    click_button(driver, "Join")
    wait_text(driver, "group /builders")  # team-a-dev, held through the group
    # The matrix names the group; the tester says carol may push, and why.
    driver.get(f"{admin}#/r/acme/registry")
    click_link(driver, SERVICE)
    wait_text(driver, "builders")
    click_link(driver, "Access tester")
    wait_for(driver, lambda d: d.find_elements(By.ID, "tester-scopes"))
    driver.find_element(By.CSS_SELECTOR, "input[name=username]").send_keys("carol")
    driver.find_element(By.ID, "tester-scopes").send_keys("repository:team-a/app:pull,push")
    click_button(driver, "Test")
    wait_text(driver, "Decisions")
    assert "group /builders" in main_text(driver) and "pull, push" in main_text(driver), main_text(driver)
    shot(driver, "00b-admin-tester")
    click_button(driver, "Sign out", within="logout-area")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))

    # carol, in the account console.
    account = f"{base}/realms/acme/account/"
    driver.get(account)
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    assert "client_id=account-console" in driver.current_url and "code_challenge_method=S256" in driver.current_url
    sign_in(driver, "carol", PASSWORD)
    wait_text(driver, "You have no personal access token.")
    assert driver.current_url.startswith(account) and "code=" not in driver.current_url
    no_serious_violations(driver)
    shot(driver, "01-tokens-empty")

    # A new token: the registry, what carol's roles allow there, a name, grants, an expiry.
    click_link(driver, "New token")
    wait_text(driver, "What your roles allow there")
    assert "repository:team-a/*:pull,push" in main_text(driver)
    driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("ci <b>job</b>")
    driver.find_element(By.ID, "f-grants").send_keys("repository:team-a/*:pull,push")
    Select(driver.find_element(By.ID, "f-days")).select_by_visible_text("7 days")
    no_serious_violations(driver)
    shot(driver, "02-new-token")
    click_button(driver, "Create token")
    wait_for(driver, lambda d: d.find_elements(By.ID, "new-token-secret"))
    secret = driver.find_element(By.ID, "new-token-secret").text
    assert secret.startswith("kpat_"), secret
    assert "ci <b>job</b>" in main_text(driver), "a name holding markup shows as text"
    assert not driver.find_elements(By.CSS_SELECTOR, "#app b")
    shot(driver, "03-secret-once")
    click_button(driver, "Copy")
    wait_for(driver, lambda d: "copy" in banner(d).lower() or "Copied" in banner(d))
    stored = driver.execute_script("return JSON.stringify(Object.assign({}, localStorage)) + JSON.stringify(Object.assign({}, sessionStorage))")
    assert secret not in stored and "eyJ" not in stored, "neither the secret nor a token in browser storage"
    click_button(driver, "Done, I have stored it")
    wait_for(driver, lambda d: not d.find_elements(By.ID, "new-token-secret"))
    assert secret not in driver.page_source, "shown once"
    assert "7 days" not in main_text(driver) and "repository:team-a/*:pull,push" in main_text(driver)

    # The token is carol's password at the registry, within its grants.
    code, out = skopeo_push(registry, "carol", "team-a/app", password=secret)
    assert code == 0, out
    code, out = skopeo_pull(registry, "carol", "team-a/app", password=secret)
    assert code == 0, out
    code, out = skopeo_push(registry, "carol", "carol/own", password=secret)
    assert code != 0, "nothing beyond carol's roles"
    driver.refresh()
    wait_text(driver, "127.0.0.1")  # last use and its address

    # docker login leaves an identity token; carol revokes it here.
    credentials = base64.b64encode(f"carol:{PASSWORD}".encode()).decode()
    identity = requests.get(f"{registry.keyport.url}/realms/acme/protocol/docker-v2/auth",
                            params={"service": SERVICE, "offline_token": "true", "client_id": "docker"},
                            headers={"Authorization": f"Basic {credentials}"}).json()["refresh_token"]
    click_link(driver, "Identity tokens")
    wait_text(driver, SERVICE)
    no_serious_violations(driver)
    shot(driver, "04-identity-tokens")
    click_button(driver, "Revoke")
    wait_for(driver, lambda d: d.switch_to.alert)
    driver.switch_to.alert.accept()
    wait_text(driver, "No machine holds an identity token of yours.")
    refused = requests.post(f"{registry.keyport.url}/realms/acme/protocol/docker-v2/auth",
                            data={"grant_type": "refresh_token", "refresh_token": identity, "client_id": "docker", "service": SERVICE})
    assert refused.status_code >= 400

    # Sessions: this browser's, marked.
    click_link(driver, "Sessions")
    wait_text(driver, "this session")
    assert "account-console" in main_text(driver)
    no_serious_violations(driver)
    shot(driver, "05-sessions")

    # The server admin revokes carol's token in the admin console: the next pull is refused.
    driver.get(f"{admin}#/r/acme/registry")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    sign_in(driver, "admin", ADMIN_PASSWORD)
    click_link(driver, SERVICE)
    click_link(driver, "Tokens")
    wait_text(driver, "carol")
    click_button(driver, "Revoke")
    wait_for(driver, lambda d: d.switch_to.alert)
    driver.switch_to.alert.accept()
    wait_text(driver, "No token.")
    code, out = skopeo_pull(registry, "carol", "team-a/app", password=secret)
    assert code != 0, out
    # The refusal reaches the events (written behind the request), then the events page.
    deadline = time.time() + 10
    while time.time() < deadline and not [e for e in registry.events() if e["type"] == "LOGIN_ERROR" and e.get("details", {}).get("credential_type") == "personal-access-token"]:
        time.sleep(0.1)
    driver.get(f"{admin}#/r/acme/events")
    wait_text(driver, "LOGIN_ERROR")
    assert "personal-access-token" in main_text(driver), main_text(driver)
    shot(driver, "06-admin-events-refused")

    # carol changes her password: the current one first (whatever the session), then the new one.
    driver.get(f"{account}#/password")
    wait_for(driver, lambda d: d.find_elements(By.ID, "username") or "Change password" in d.page_source)
    if driver.find_elements(By.ID, "username"):
        sign_in(driver, "carol", PASSWORD)
    wait_text(driver, "Change password")
    shot(driver, "07-password")
    # Cancelled on the way: nothing changes, and the console says so.
    click_button(driver, "Change password")
    wait_for(driver, lambda d: "re-authenticate" in d.page_source)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "cancel-aia"))
    driver.find_element(By.ID, "cancel-aia").click()
    wait_for(driver, lambda d: "Your password was not changed." in banner(d))
    assert driver.current_url.endswith("#/password"), driver.current_url
    click_button(driver, "Change password")
    wait_for(driver, lambda d: "re-authenticate" in d.page_source)
    assert driver.find_element(By.ID, "username").get_attribute("value") == "carol"
    shot(driver, "08-re-authenticate")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: d.find_elements(By.ID, "password-new"))
    shot(driver, "09-new-password")
    driver.find_element(By.ID, "password-new").send_keys("pw-Registry-2")
    driver.find_element(By.ID, "password-confirm").send_keys("pw-Registry-2")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: "Your password was changed." in banner(d))
    assert driver.current_url.startswith(account) and "kc_action_status" not in driver.current_url
    shot(driver, "10-password-changed")
    code, out = skopeo_pull(registry, "carol", "team-a/app", password="pw-Registry-2")
    assert code == 0, out
    code, out = skopeo_pull(registry, "carol", "team-a/app", password=PASSWORD)
    assert code != 0, "the old password is gone"
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
              and "status of 401" not in entry["message"]]
    assert not errors, errors


def test_an_application_token_cannot_use_the_account_api(registry):
    """A relying party holds the user's token too: it must not mint registry credentials."""
    registry.admin.create_client({"clientId": "webapp", "publicClient": True, "directAccessGrantsEnabled": True})
    token = requests.post(f"{registry.keyport.url}/realms/acme/protocol/openid-connect/token", data={
        "grant_type": "password", "client_id": "webapp", "username": "alice", "password": PASSWORD}).json()["access_token"]
    made = requests.post(f"{registry.keyport.url}/realms/acme/account/personal-access-tokens",
                         headers={"Authorization": f"Bearer {token}"}, json={"name": "stolen", "client": SERVICE})
    assert made.status_code == 403, made.text
