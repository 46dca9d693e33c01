"""Brokering with real parts: a second Keyport is the organisation's OpenID provider.

The upstream Keyport (realm `corp`, its own users) gets a confidential client for the registry's
Keyport; the registry's Keyport (realm `acme`) trusts it as identity provider `corp`, made with
python-keycloak (`create_idp`, `add_mapper_to_idp`): everyone who comes from it joins group
`/builders` (which holds the registry's push role) and people whose email is at corp.test join
`/corp-staff`. Then, in headless Chromium, zoe — who exists only upstream — opens the account
console, picks "Sign in with Corp" on the login page, signs in at the upstream, comes back a new
user with the mapped groups, makes a personal access token and pushes and pulls through a real
registry with it. Her second sign-in finds her by the link, not by name; an admin sees and
removes the link. Pages are kept under .build/e2e-artifacts/brokering/.
"""
import shutil
import tempfile
import urllib.parse

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

from conftest import ADMIN_PASSWORD, REPO, Keyport
from console_pages import banner, click_button, click_link, main_text, no_serious_violations, screenshot, sign_in, wait_for, wait_text
from test_registry import SERVICE, Setup, free_port, skopeo_pull, skopeo_push

ARTIFACTS = REPO / ".build" / "e2e-artifacts" / "brokering"
ZOE_PASSWORD = "zoe-Upstream-pw-1"


def d_value(driver, field_id):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, field_id).get_attribute("value")


def shot(driver, name):
    screenshot(driver, ARTIFACTS, name)


@pytest.fixture
def two_keyports():
    root = tempfile.mkdtemp(prefix="kp-broker-", dir="/tmp")
    upstream_dir = tempfile.mkdtemp(prefix="kp-upstream-", dir="/tmp")
    registry = Setup(root)
    port = free_port()
    # Another host name than the registry's Keyport (127.0.0.1): each keeps its own cookies.
    upstream = Keyport(upstream_dir, env={"KEYPORT_HOSTNAME": f"http://localhost:{port}"}, port=port)
    yield registry, upstream
    upstream.stop()
    registry.close()
    upstream.log.seek(0)
    log = upstream.log.read() + open(f"{root}/keyport.log").read()
    assert ZOE_PASSWORD not in log and "upstream-client-secret" not in log, "secrets never reach the logs"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(upstream_dir, ignore_errors=True)


def test_a_person_from_another_provider_signs_in_and_pushes_with_a_token(two_keyports, chromium):
    from selenium.webdriver.common.by import By
    registry, upstream = two_keyports
    driver = chromium
    base = registry.keyport.hostname
    callback = f"{base}/realms/acme/broker/corp/endpoint"

    # The organisation's provider: realm corp, zoe, and a client for the registry's Keyport.
    up = KeycloakAdmin(connection=KeycloakOpenIDConnection(server_url=upstream.url, username="admin", password=ADMIN_PASSWORD,
                                                          realm_name="master", user_realm_name="master", client_id="admin-cli"))
    up.create_realm({"realm": "corp", "enabled": True, "displayName": "Corp"})
    up.change_current_realm("corp")
    up.create_client({"clientId": "acme-registry", "publicClient": False, "secret": "upstream-client-secret",
                      "redirectUris": [callback], "standardFlowEnabled": True})
    up.create_user({"username": "zoe", "enabled": True, "email": "zoe@corp.test", "emailVerified": True, "firstName": "Zoe",
                    "credentials": [{"type": "password", "value": ZOE_PASSWORD, "temporary": False}]})
    issuer = f"{upstream.hostname}/realms/corp"
    discovery = requests.get(f"{upstream.url}/realms/corp/.well-known/openid-configuration").json()
    assert discovery["issuer"] == issuer

    # The registry's Keyport trusts it, with python-keycloak, and maps groups.
    admin = registry.admin
    admin.create_idp({
        "alias": "corp", "providerId": "oidc", "displayName": "Corp", "enabled": True, "trustEmail": True,
        "config": {"issuer": issuer, "authorizationUrl": discovery["authorization_endpoint"], "tokenUrl": discovery["token_endpoint"],
                   "userInfoUrl": discovery["userinfo_endpoint"], "jwksUrl": discovery["jwks_uri"], "useJwksUrl": "true",
                   "clientId": "acme-registry", "clientSecret": "upstream-client-secret", "clientAuthMethod": "client_secret_basic",
                   "defaultScope": "openid email profile", "syncMode": "IMPORT", "pkceEnabled": "true"},
    })
    builders = admin.create_group({"name": "builders"})
    admin.assign_group_client_roles(builders, registry.client, [admin.get_client_role(registry.client, "team-a-dev")])
    admin.create_group({"name": "corp-staff"})
    admin.add_mapper_to_idp("corp", {"name": "builders", "identityProviderAlias": "corp",
                                     "identityProviderMapper": "oidc-hardcoded-group-idp-mapper", "config": {"group": "/builders"}})
    admin.add_mapper_to_idp("corp", {"name": "staff by email", "identityProviderAlias": "corp",
                                     "identityProviderMapper": "oidc-advanced-group-idp-mapper",
                                     "config": {"claims": '[{"key":"email","value":".*@corp\\\\.test"}]', "are.claim.values.regex": "true",
                                                "group": "/corp-staff"}})
    assert sorted(m["name"] for m in admin.get_idp_mappers("corp")) == ["builders", "staff by email"]

    # zoe, in Chromium: the account console, the login page's link, the upstream's login page.
    account = f"{base}/realms/acme/account/"
    driver.get(account)
    wait_for(driver, lambda d: d.find_elements(By.ID, "social-corp"))
    assert "Or sign in with" in driver.find_element(By.TAG_NAME, "body").text
    no_serious_violations(driver)
    shot(driver, "01-login-page-with-provider")
    driver.find_element(By.ID, "social-corp").click()
    wait_for(driver, lambda d: d.current_url.startswith(upstream.hostname) and d.find_elements(By.ID, "username"))
    sent = urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)
    assert sent["code_challenge_method"] == ["S256"] and sent["redirect_uri"] == [callback] and sent["client_id"] == ["acme-registry"]
    assert sent["state"][0] and sent["nonce"][0]
    shot(driver, "02-upstream-login")
    sign_in(driver, "zoe", ZOE_PASSWORD)
    wait_text(driver, "You have no personal access token.")
    assert driver.current_url.startswith(account)
    shot(driver, "03-account-console-as-zoe")

    # zoe is a user of acme now, linked by the upstream's subject, in the mapped groups.
    zoe = admin.get_users({"username": "zoe", "exact": True})[0]
    assert zoe["email"] == "zoe@corp.test" and zoe["emailVerified"] is True
    links = admin.get_user_social_logins(zoe["id"])
    assert [link["identityProvider"] for link in links] == ["corp"]
    assert sorted(g["path"] for g in admin.get_user_groups(zoe["id"])) == ["/builders", "/corp-staff"]

    # A personal access token from the account console; the registry takes it as zoe's password.
    click_link(driver, "New token")
    wait_text(driver, "What your roles allow there")
    driver.find_element(By.CSS_SELECTOR, "input[name=name]").send_keys("laptop")
    driver.find_element(By.ID, "f-grants").send_keys("repository:team-a/*:pull,push")
    click_button(driver, "Create token")
    wait_for(driver, lambda d: d.find_elements(By.ID, "new-token-secret"))
    secret = driver.find_element(By.ID, "new-token-secret").text
    shot(driver, "04-token-made")
    code, out = skopeo_push(registry, "zoe", "team-a/zoe-app", password=secret)
    assert code == 0, out
    code, out = skopeo_pull(registry, "zoe", "team-a/zoe-app", password=secret)
    assert code == 0, out
    # zoe has no password here: the upstream's is not one.
    code, out = skopeo_pull(registry, "zoe", "team-a/zoe-app", password=ZOE_PASSWORD)
    assert code != 0

    # Renamed upstream, zoe is still found by the link (not by name) at her next sign-in.
    up_zoe = up.get_user_id("zoe")
    up.update_user(up_zoe, {"email": "zoe.renamed@corp.test"})
    click_button(driver, "Sign out", within="logout-area")
    wait_for(driver, lambda d: d.find_elements(By.ID, "social-corp"))
    driver.find_element(By.ID, "social-corp").click()
    # Still signed in upstream: straight back.
    wait_text(driver, "laptop")
    assert len(admin.get_users({"search": "zoe"})) == 1

    # The admin console: the provider, its mappers, and zoe's link on her page.
    console = f"{base}/admin/master/console/"
    driver.get(f"{console}#/r/acme/sso")
    sign_in(driver, "admin", ADMIN_PASSWORD)
    wait_text(driver, "corp (Corp)")
    no_serious_violations(driver)
    click_link(driver, "corp (Corp)")
    wait_text(driver, "group /corp-staff while")
    assert "Ready to sign people in" in main_text(driver) and callback in main_text(driver)
    no_serious_violations(driver)
    shot(driver, "06-console-provider")
    # A second provider from the console's form: its discovery URL fills in the endpoints.
    click_link(driver, "← Sign-in providers")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=discovery]"))
    for name, value in [("alias", "corp2"), ("displayName", "Corp <b>two</b>"), ("discovery", f"{upstream.url}/realms/corp/.well-known/openid-configuration"),
                        ("clientId", "acme-registry"), ("clientSecret", "upstream-client-secret")]:
        driver.find_element(By.CSS_SELECTOR, f"input[name={name}]").send_keys(value)
    click_button(driver, "Add provider")
    wait_for(driver, lambda d: "Provider corp2 added" in banner(d))
    assert not driver.find_elements(By.CSS_SELECTOR, "#app b"), "a name holding markup shows as text"
    made = admin.get_idp("corp2")
    assert made["config"]["tokenUrl"] == discovery["token_endpoint"] and made["config"]["clientSecret"] == "**********"
    click_link(driver, "corp2 (Corp <b>two</b>)")
    wait_text(driver, "Ready to sign people in")
    assert "needs" not in main_text(driver)
    admin.delete_idp("corp2")
    driver.get(f"{console}#/r/acme/users/{zoe['id']}")
    wait_text(driver, "Signs in through")
    heading = driver.find_element(By.XPATH, "//h2[text()='Signs in through']")
    assert "No identity provider account." not in main_text(driver)
    no_serious_violations(driver)
    driver.execute_script("arguments[0].scrollIntoView()", heading)
    shot(driver, "07-console-user-link")
    driver.get(account)
    wait_text(driver, "laptop")

    # The admin removes the link: the next sign-in through corp finds an existing account to link, not zoe's.
    admin.connection.raw_delete(f"admin/realms/acme/users/{zoe['id']}/federated-identity/corp")
    assert admin.get_user_social_logins(zoe["id"]) == []
    click_button(driver, "Sign out", within="logout-area")
    wait_for(driver, lambda d: d.find_elements(By.ID, "social-corp"))
    driver.find_element(By.ID, "social-corp").click()
    wait_for(driver, lambda d: "Account already exists" in d.find_element(By.TAG_NAME, "body").text)
    assert d_value(driver, "username") == "zoe"
    no_serious_violations(driver)
    shot(driver, "05-account-exists")
    events = admin.connection.raw_get("admin/realms/acme/events", type="REGISTER").json()
    assert any(e.get("details", {}).get("identity_provider") == "corp" for e in events)
