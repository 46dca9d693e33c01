"""People sign in with a browser, proven with software no one here wrote.

- Apache httpd with mod_auth_openidc (Debian's packages) protects two applications; headless
  Chromium, driven by selenium, signs in through Keyport's login page, reaches the second
  application without the form (single sign-on), and logs out of both (RP-initiated logout, then
  back-channel logout to the second application). A temporary password is changed on the way;
  a wrong password, a disabled user and a locked user each see what Keycloak shows.
- authlib (a second relying-party library) does PKCE, refresh and prompt=none.
- python-keycloak builds the authorization URL and exchanges the code.

Every page is kept as a screenshot under .build/e2e-artifacts/browser/ (look at them).
"""
import base64
import hashlib
import html
import os
import pathlib
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

from conftest import ADMIN_PASSWORD, REPO

ARTIFACTS = REPO / ".build" / "e2e-artifacts" / "browser"
MODULES = "/usr/lib/apache2/modules"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Admin:
    """The admin REST API, as any HTTP client would call it."""

    def __init__(self, keyport):
        self.base = keyport.url
        self.token = requests.post(f"{self.base}/realms/master/protocol/openid-connect/token", data={
            "grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": ADMIN_PASSWORD}).json()["access_token"]

    def call(self, method, path, **kwargs):
        response = requests.request(method, f"{self.base}/admin{path}", headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def user_id(self, realm, username):
        return self.call("GET", f"/realms/{realm}/users", params={"username": username, "exact": "true"}).json()[0]["id"]


@pytest.fixture
def acme(keyport):
    """A realm with people in every state a sign-in can meet, and two applications' clients."""
    admin = Admin(keyport)
    admin.call("POST", "/realms", json={"realm": "acme", "enabled": True, "displayName": "ACME Corp",
                                        "bruteForceProtected": True, "failureFactor": 3, "permanentLockout": False})
    admin.call("POST", "/realms/acme/users", json={"username": "alice", "enabled": True, "email": "alice@acme.test", "emailVerified": True,
                                                   "firstName": "Alice", "lastName": "Liddell",
                                                   "credentials": [{"type": "password", "value": "alice-pw-1", "temporary": False}]})
    admin.call("POST", "/realms/acme/users", json={"username": "carol", "enabled": True, "firstName": "Carol", "lastName": "Chen",
                                                   "credentials": [{"type": "password", "value": "temporary-1", "temporary": True}]})
    admin.call("POST", "/realms/acme/users", json={"username": "dora", "enabled": False,
                                                   "credentials": [{"type": "password", "value": "dora-pw-1", "temporary": False}]})
    admin.call("POST", "/realms/acme/users", json={"username": "eve", "enabled": True,
                                                   "credentials": [{"type": "password", "value": "eve-pw-1", "temporary": False}]})
    return admin


class Apache:
    """One httpd (mod_auth_openidc) serving two protected applications on two ports."""

    def __init__(self, keyport, admin):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="kp-apache-"))
        os.chmod(self.root, 0o755)
        self.ports = [free_port(), free_port()]
        self.secrets = [secrets.token_urlsafe(24), secrets.token_urlsafe(24)]
        vhosts = []
        for i, port in enumerate(self.ports):
            app = f"app{i + 1}"
            base = f"http://127.0.0.1:{port}"
            docroot = self.root / app
            (docroot / "protected").mkdir(parents=True)
            (docroot / "protected" / "index.shtml").write_text(
                f'<!DOCTYPE html><html lang="en"><head><title>{app}</title></head><body><h1>{app}</h1>'
                '<p>user: <span id="user"><!--#echo var="OIDC_CLAIM_preferred_username" --></span></p>'
                '<p>email: <span id="email"><!--#echo var="OIDC_CLAIM_email" --></span></p>'
                '<p>name: <span id="name"><!--#echo var="OIDC_CLAIM_name" --></span></p></body></html>')
            (docroot / "loggedout.html").write_text(f'<!DOCTYPE html><html lang="en"><body><h1 id="bye">{app}: logged out</h1></body></html>')
            admin.call("POST", "/realms/acme/clients", json={
                "clientId": app, "publicClient": False, "secret": self.secrets[i], "redirectUris": [f"{base}/protected/redirect_uri"],
                "attributes": {"post.logout.redirect.uris": f"{base}/loggedout.html",
                               "backchannel.logout.url": f"{base}/protected/redirect_uri?logout=backchannel",
                               "pkce.code.challenge.method": "S256"}})
            vhosts.append(f"""
<VirtualHost 127.0.0.1:{port}>
  ServerName 127.0.0.1
  DocumentRoot {docroot}
  OIDCProviderMetadataURL {keyport.url}/realms/acme/.well-known/openid-configuration
  OIDCClientID {app}
  OIDCClientSecret {self.secrets[i]}
  OIDCRedirectURI {base}/protected/redirect_uri
  OIDCCryptoPassphrase {secrets.token_urlsafe(24)}
  OIDCScope "openid email profile"
  OIDCPKCEMethod S256
  OIDCCookie {app}_session
  OIDCStateCookiePrefix {app}_state_
  OIDCSessionType server-cache
  OIDCDefaultLoggedOutURL {base}/loggedout.html
  <Location /protected>
    AuthType openid-connect
    Require valid-user
    Options +Includes
  </Location>
</VirtualHost>""")
        user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
        (self.root / "httpd.conf").write_text(f"""
ServerRoot {self.root}
PidFile {self.root}/httpd.pid
ErrorLog {self.root}/error.log
LogLevel warn auth_openidc:info
DefaultRuntimeDir {self.root}
Mutex file:{self.root} default
{user}
Listen 127.0.0.1:{self.ports[0]}
Listen 127.0.0.1:{self.ports[1]}
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule authn_core_module {MODULES}/mod_authn_core.so
LoadModule authz_user_module {MODULES}/mod_authz_user.so
LoadModule mime_module {MODULES}/mod_mime.so
LoadModule dir_module {MODULES}/mod_dir.so
LoadModule include_module {MODULES}/mod_include.so
LoadModule auth_openidc_module {MODULES}/mod_auth_openidc.so
TypesConfig /etc/mime.types
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
DirectoryIndex index.shtml index.html
{''.join(vhosts)}
""")
        self.output = open(self.root / "stderr.log", "w+")
        self.process = subprocess.Popen(["apache2", "-X", "-f", str(self.root / "httpd.conf")], stdout=self.output, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{self.ports[1]}/loggedout.html", timeout=2)
                requests.get(f"http://127.0.0.1:{self.ports[0]}/loggedout.html", timeout=2)
                return
            except requests.ConnectionError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        self.output.seek(0)
        raise RuntimeError("apache did not start:\n" + self.output.read() + self.error_log())

    def url(self, app: int, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[app - 1]}{path}"

    def logout_url(self, app: int) -> str:
        return self.url(app, "/protected/redirect_uri?logout=" + urllib.parse.quote(self.url(app, "/loggedout.html"), safe=""))

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def apache(keyport, acme):
    if not shutil.which("apache2") or not os.path.exists(f"{MODULES}/mod_auth_openidc.so"):
        pytest.fail("apache2 and libapache2-mod-auth-openidc are needed: scripts/install-deps --test installs them")
    server = Apache(keyport, acme)
    yield server
    log = server.error_log()
    server.stop()
    assert "segfault" not in log.lower()


def shot(driver, name: str):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def submit(driver, action=None):
    """Submits the page's form (or runs `action`) and waits for the next page to load."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    old = driver.find_element(By.TAG_NAME, "html")
    if action:
        action()
    else:
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def replaced(_):
        # The old page's root is gone (Chromium says so in more than one way mid-navigation).
        try:
            old.tag_name
            return False
        except WebDriverException:
            return True

    wait = WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,))
    wait.until(replaced)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def sign_in(driver, username: str, password: str):
    from selenium.webdriver.common.by import By
    field = driver.find_element(By.ID, "username")
    field.clear()
    field.send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    submit(driver)


def text(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, element_id).text


def test_apache_sign_in_single_sign_on_and_logout(keyport, apache, chromium):
    from selenium.webdriver.common.by import By
    driver = chromium
    driver.get(apache.url(1, "/protected/"))
    # Keyport's login page: the realm's name, labelled fields, the username focused.
    assert "/realms/acme/protocol/openid-connect/auth" in driver.current_url or "/login-actions/" in driver.current_url
    assert "ACME Corp" in driver.page_source and "Sign in to your account" in driver.title
    assert driver.switch_to.active_element.get_attribute("id") == "username"
    shot(driver, "01-login-page")
    sign_in(driver, "alice", "wrong-password")
    assert "Invalid username or password." in driver.find_element(By.ID, "message").text
    assert driver.find_element(By.ID, "message").get_attribute("role") == "alert"
    shot(driver, "02-wrong-password")
    # Keyboard only: the password field has focus after an error for a known username; Enter submits.
    from selenium.webdriver.common.keys import Keys
    active = driver.switch_to.active_element
    assert active.get_attribute("id") == "password"
    submit(driver, lambda: active.send_keys("alice-pw-1" + Keys.ENTER))
    assert text(driver, "user") == "alice", driver.page_source
    assert text(driver, "email") == "alice@acme.test" and text(driver, "name") == "Alice Liddell"
    shot(driver, "03-app1-signed-in")

    # The second application: no form, the browser's session signs it in.
    driver.get(apache.url(2, "/protected/"))
    assert text(driver, "user") == "alice", driver.page_source
    shot(driver, "04-app2-single-sign-on")

    # Logout of the first application ends the Keyport session; the second is told over the back channel.
    driver.get(apache.logout_url(1))
    assert text(driver, "bye") == "app1: logged out", driver.page_source
    shot(driver, "05-logged-out")
    driver.get(apache.url(2, "/protected/"))
    assert "Sign in to your account" in driver.title, driver.page_source
    shot(driver, "06-app2-after-logout")


def test_a_temporary_password_is_changed_on_the_way(keyport, apache, chromium):
    from selenium.webdriver.common.by import By
    driver = chromium
    driver.get(apache.url(1, "/protected/"))
    sign_in(driver, "carol", "temporary-1")
    assert "Update password" in driver.title
    assert "You need to change your password" in driver.page_source
    shot(driver, "07-update-password")
    driver.find_element(By.ID, "password-new").send_keys("carol-new-1")
    driver.find_element(By.ID, "password-confirm").send_keys("carol-other")
    submit(driver)
    assert "Passwords don't match." in driver.find_element(By.ID, "message").text
    shot(driver, "08-passwords-do-not-match")
    driver.find_element(By.ID, "password-new").send_keys("carol-new-1")
    driver.find_element(By.ID, "password-confirm").send_keys("carol-new-1")
    submit(driver)
    assert text(driver, "user") == "carol", driver.page_source
    shot(driver, "09-carol-signed-in")
    # The temporary password is gone, the new one works.
    token = f"{keyport.url}/realms/acme/protocol/openid-connect/token"
    form = {"grant_type": "password", "client_id": "app1", "client_secret": apache.secrets[0], "username": "carol"}
    assert requests.post(token, data={**form, "password": "temporary-1"}).status_code == 401
    assert requests.post(token, data={**form, "password": "carol-new-1"}).status_code == 200


def test_disabled_and_locked_people_see_what_keycloak_shows(keyport, apache, chromium):
    from selenium.webdriver.common.by import By
    driver = chromium
    driver.get(apache.url(1, "/protected/"))
    sign_in(driver, "dora", "wrong")
    assert "Invalid username or password." in text(driver, "message")
    sign_in(driver, "dora", "dora-pw-1")
    assert "Account is disabled, contact your admin." in text(driver, "message")
    shot(driver, "10-disabled")
    for _ in range(3):
        sign_in(driver, "eve", "wrong")
    sign_in(driver, "eve", "eve-pw-1")
    assert "Invalid username or password." in text(driver, "message")
    assert "/protected" not in driver.current_url
    shot(driver, "11-locked")


def test_pages_pass_an_accessibility_check(keyport, apache, chromium):
    """axe-core on the login page: no serious or critical violations."""
    from axe_selenium_python import Axe
    driver = chromium
    driver.get(apache.url(1, "/protected/"))
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    serious = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, serious
    # The page with an error, too.
    sign_in(driver, "alice", "wrong")
    axe.inject()
    results = axe.run()
    assert not [v for v in results["violations"] if v.get("impact") in ("serious", "critical")], results["violations"]


# authlib and python-keycloak: relying-party libraries against the same endpoints, with a
# requests session standing in for the browser.

def browser_sign_in(session: requests.Session, authorize_url: str, username: str, password: str) -> str:
    """Follows the authorization URL to the login page, posts the form; returns the redirect to the client."""
    page = session.get(authorize_url, allow_redirects=False)
    if page.status_code == 302:
        return page.headers["Location"]
    assert page.status_code == 200, page.text
    action = html.unescape(re.search(r'<form[^>]* action="([^"]+)"', page.text).group(1))
    # The form names the public URL (localhost); post it where the page came from, with its cookie.
    origin = urllib.parse.urlsplit(authorize_url)
    action = urllib.parse.urlunsplit(urllib.parse.urlsplit(action)._replace(scheme=origin.scheme, netloc=origin.netloc))
    fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)}
    done = session.post(action, data={**fields, "username": username, "password": password}, allow_redirects=False)
    assert done.status_code == 302, done.text
    return done.headers["Location"]


def test_authlib_pkce_refresh_and_prompt_none(keyport, acme):
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session
    acme.call("POST", "/realms/acme/clients", json={"clientId": "cli-app", "publicClient": True, "redirectUris": ["http://127.0.0.1/callback"]})
    discovery = requests.get(f"{keyport.url}/realms/acme/.well-known/openid-configuration").json()
    # The issuer is the public URL (localhost); the test talks to 127.0.0.1 — the same server.
    local = lambda url: url.replace(keyport.hostname, keyport.url)
    client = OAuth2Session("cli-app", redirect_uri="http://127.0.0.1:43123/callback", scope="openid profile", code_challenge_method="S256")
    verifier = generate_token(64)
    url, state = client.create_authorization_url(local(discovery["authorization_endpoint"]), code_verifier=verifier, nonce="n-123")
    browser = requests.Session()
    callback = browser_sign_in(browser, url, "alice", "alice-pw-1")
    assert callback.startswith("http://127.0.0.1:43123/callback?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert query["state"] == state and query["iss"] == discovery["issuer"]
    tokens = client.fetch_token(local(discovery["token_endpoint"]), authorization_response=callback, code_verifier=verifier)
    assert tokens["id_token"] and tokens["refresh_token"]
    claims = jwt_payload(tokens["id_token"])
    assert claims["nonce"] == "n-123" and claims["aud"] == "cli-app" and claims["preferred_username"] == "alice"
    # The code is spent; a refresh works.
    again = requests.post(local(discovery["token_endpoint"]), data={"grant_type": "authorization_code", "client_id": "cli-app",
                                                                    "code": query["code"], "redirect_uri": "http://127.0.0.1:43123/callback",
                                                                    "code_verifier": verifier})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # The replay ended what the code had started: its refresh token is dead…
    dead = requests.post(local(discovery["token_endpoint"]), data={"grant_type": "refresh_token", "client_id": "cli-app", "refresh_token": tokens["refresh_token"]})
    assert dead.json().get("error_description") == "Session not active"
    # …and the browser's sign-in it came from: prompt=none finds no session.
    url, _ = client.create_authorization_url(local(discovery["authorization_endpoint"]), code_verifier=generate_token(64), prompt="none")
    assert "error=login_required" in browser.get(url, allow_redirects=False).headers["Location"]
    # Sign in again; then the browser's session answers prompt=none, and authlib refreshes.
    url, _ = client.create_authorization_url(local(discovery["authorization_endpoint"]), code_verifier=generate_token(64))
    browser_sign_in(browser, url, "alice", "alice-pw-1")
    verifier = generate_token(64)
    url, state = client.create_authorization_url(local(discovery["authorization_endpoint"]), code_verifier=verifier, prompt="none")
    silent = browser.get(url, allow_redirects=False)
    assert silent.status_code == 302 and "code=" in silent.headers["Location"]
    tokens = client.fetch_token(local(discovery["token_endpoint"]), authorization_response=silent.headers["Location"], code_verifier=verifier)
    refreshed = client.refresh_token(local(discovery["token_endpoint"]), refresh_token=tokens["refresh_token"])
    assert refreshed["access_token"] != tokens["access_token"] and refreshed["id_token"]
    # Without the browser's cookie, prompt=none is login_required.
    url, _ = client.create_authorization_url(local(discovery["authorization_endpoint"]), code_verifier=generate_token(64), prompt="none")
    alone = requests.get(url, allow_redirects=False)
    assert "error=login_required" in alone.headers["Location"]


def test_python_keycloak_auth_url_and_code(keyport, acme):
    from keycloak import KeycloakOpenID
    acme.call("POST", "/realms/acme/clients", json={"clientId": "pk-app", "publicClient": False, "secret": "pk-secret",
                                                    "redirectUris": ["http://127.0.0.1:8765/cb"]})
    oidc = KeycloakOpenID(server_url=keyport.url, realm_name="acme", client_id="pk-app", client_secret_key="pk-secret")
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    url = oidc.auth_url(redirect_uri="http://127.0.0.1:8765/cb", scope="openid email", state="pk-state",
                        code_challenge=challenge, code_challenge_method="S256")
    # python-keycloak builds the URL from the issuer it was given; the server answers on 127.0.0.1.
    callback = browser_sign_in(requests.Session(), url, "alice", "alice-pw-1")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    assert query["state"] == "pk-state"
    tokens = oidc.token(grant_type="authorization_code", code=query["code"], redirect_uri="http://127.0.0.1:8765/cb", code_verifier=verifier)
    assert tokens["id_token"] and oidc.userinfo(tokens["access_token"])["email"] == "alice@acme.test"
    oidc.logout(tokens["refresh_token"])
    # The device grant through python-keycloak: codes, then the token endpoint says it waits.
    acme.call("POST", "/realms/acme/clients", json={"clientId": "pk-tv", "publicClient": True,
                                                    "attributes": {"oauth2.device.authorization.grant.enabled": "true"}})
    tv = KeycloakOpenID(server_url=keyport.url, realm_name="acme", client_id="pk-tv")
    device = tv.device(scope="openid")
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", device["user_code"]) and device["interval"] == 5 and device["expires_in"] == 600
    from keycloak.exceptions import KeycloakPostError
    with pytest.raises(KeycloakPostError) as pending:
        tv.token(grant_type="urn:ietf:params:oauth:grant-type:device_code", device_code=device["device_code"])
    assert b"authorization_pending" in pending.value.response_body


def test_a_flood_of_login_form_posts_is_shed_as_the_token_endpoint_sheds(keyport, acme):
    """300 posts of the login form at once: each is the page again (a wrong password) or a 503 with
    Retry-After — never a 500, never a hang — and the server answers its health check and a right
    password afterwards."""
    import concurrent.futures
    acme.call("POST", "/realms/acme/clients", json={"clientId": "flood-app", "publicClient": True, "redirectUris": ["http://127.0.0.1:9/cb"]})
    browser = requests.Session()
    page = browser.get(f"{keyport.url}/realms/acme/protocol/openid-connect/auth", params={
        "client_id": "flood-app", "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code", "scope": "openid"})
    fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)}
    cookie = browser.cookies.get("KEYPORT_LOGIN")
    action = html.unescape(re.search(r'<form[^>]* action="([^"]+)"', page.text).group(1)).replace(keyport.hostname, keyport.url)

    def post(i):
        response = requests.post(action, data={**fields, "username": f"nobody-{i}", "password": "wrong"},
                                 cookies={"KEYPORT_LOGIN": cookie}, allow_redirects=False, timeout=60)
        return response.status_code, response.headers.get("Retry-After")

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(post, range(300)))
    statuses = {status for status, _ in results}
    assert statuses <= {200, 503}, statuses
    assert any(status == 503 for status, _ in results), "nothing was shed: the queue bound is not in the way"
    assert all(retry for status, retry in results if status == 503)
    assert requests.get(f"{keyport.url}/health/live", timeout=5).status_code == 200
    callback = browser_sign_in(browser, page.url, "alice", "alice-pw-1")
    assert "code=" in callback


def jwt_payload(token: str) -> dict:
    import json
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_kpadm_signs_in_through_the_browser(keyport, tmp_path):
    """`kpadm config credentials --device`: the terminal shows a code, a person approves it in a
    browser, and kpadm never sees a password."""
    kpadm = str(REPO / ".build" / "debug" / "kpadm")
    session_file = tmp_path / "kpadm.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KPADM_", "KEYPORT_"))}
    process = subprocess.Popen([kpadm, "config", "credentials", "--server", keyport.url, "--realm", "master", "--device",
                                "--config", str(session_file)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stderr.readline()
        match = re.search(r"open (\S+) in a browser and check that it shows the code ([A-Z]{4}-[A-Z]{4})", line)
        assert match, line
        url, user_code = match.group(1), match.group(2)
        assert user_code in urllib.parse.unquote(url)
        browser = requests.Session()
        url = url.replace(keyport.hostname, keyport.url)
        entry = browser.get(url)
        assert entry.status_code == 200 and user_code in entry.text

        def post(page, extra):
            action = html.unescape(re.search(r'<form[^>]* action="([^"]+)"', page.text).group(1)).replace(keyport.hostname, keyport.url)
            fields = {html.unescape(n): html.unescape(v) for n, v in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page.text)}
            return browser.post(action, data={**fields, **extra})

        login = post(entry, {"user_code": user_code})
        assert "Sign in to your account" in login.text
        consent = post(login, {"username": "admin", "password": ADMIN_PASSWORD})
        assert "admin-cli" in consent.text and "Never enter a code" in consent.text
        done = post(consent, {"decision": "approve"})
        assert "Device Login Successful" in done.text
        assert process.wait(timeout=90) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    realms = subprocess.run([kpadm, "get", "realms", "--fields", "realm", "--config", str(session_file)], capture_output=True, text=True, env=env)
    assert realms.returncode == 0 and "master" in realms.stdout, realms.stderr
    assert ADMIN_PASSWORD not in session_file.read_text()


def test_device_sign_in_pages_in_chromium(keyport, acme, chromium):
    """The device grant's pages as a person sees them: the code prefilled, the sign-in, the
    approval page naming the application, the account and the scopes, and the end."""
    from selenium.webdriver.common.by import By
    acme.call("POST", "/realms/acme/clients", json={"clientId": "tv", "name": "Living-room TV", "publicClient": True,
                                                    "attributes": {"oauth2.device.authorization.grant.enabled": "true"}})
    device = requests.post(f"{keyport.url}/realms/acme/protocol/openid-connect/auth/device",
                           data={"client_id": "tv", "scope": "openid email"}).json()
    driver = chromium
    driver.get(device["verification_uri_complete"])
    assert driver.find_element(By.ID, "user_code").get_attribute("value") == device["user_code"]
    shot(driver, "12-device-code")
    submit(driver)
    sign_in(driver, "alice", "alice-pw-1")
    assert "Living-room TV" in driver.page_source and "alice" in driver.page_source and "email" in driver.page_source
    assert "Never enter a code that someone else sent you" in driver.page_source
    shot(driver, "13-device-approval")
    submit(driver, lambda: driver.find_element(By.CSS_SELECTOR, "button[value=approve]").click())
    assert "Device Login Successful" in driver.title
    shot(driver, "14-device-approved")
    tokens = requests.post(f"{keyport.url}/realms/acme/protocol/openid-connect/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "tv", "device_code": device["device_code"]}).json()
    assert jwt_payload(tokens["access_token"])["preferred_username"] == "alice"
