"""python-keycloak, the Keycloak client library from PyPI, driving Keyport unchanged."""
import json

import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakGetError, KeycloakPostError

from conftest import ADMIN_PASSWORD, REPO


def admin_for(keyport, realm="master"):
    connection = KeycloakOpenIDConnection(
        server_url=keyport.url, username="admin", password=ADMIN_PASSWORD,
        realm_name=realm, user_realm_name="master", client_id="admin-cli", verify=False)
    return KeycloakAdmin(connection=connection)


def test_a_realm_managed_end_to_end_by_python_keycloak(keyport):
    admin = admin_for(keyport)
    admin.create_realm({"realm": "acme", "enabled": True, "dockerV2Enabled": True}, skip_exists=False)
    admin.create_realm({"realm": "acme"}, skip_exists=True)  # a conflict python-keycloak recognises
    assert {r["realm"] for r in admin.get_realms()} >= {"master", "acme"}
    admin.change_current_realm("acme")
    assert admin.get_realm("acme")["dockerV2Enabled"] is True

    # Users with passwords.
    alice = admin.create_user({"username": "alice", "enabled": True, "email": "alice@acme.io",
                               "credentials": [{"type": "password", "value": "s3cret-Alice-1", "temporary": False}]})
    assert admin.get_user_id("alice") == alice
    bob = admin.create_user({"username": "bob", "enabled": True})
    admin.set_user_password(bob, "bob-password-1", temporary=False)
    assert admin.users_count() == 2
    assert [u["username"] for u in admin.get_users({"search": "ali"})] == ["alice"]
    admin.update_user(alice, {"firstName": "Alice"})
    assert admin.get_user(alice)["firstName"] == "Alice"
    assert admin.get_user(alice)["email"] == "alice@acme.io"
    with pytest.raises(KeycloakPostError) as conflict:
        admin.create_user({"username": "ALICE", "enabled": True})
    assert conflict.value.response_code == 409

    # Clients and client roles.
    registry = admin.create_client({"clientId": "registry.acme.io", "protocol": "docker-v2"})
    assert admin.get_client_id("registry.acme.io") == registry
    admin.create_client_role(registry, {"name": "team-a-push", "attributes": {"docker.grant": ["repository:team-a/*:pull,push"]}})
    admin.create_client_role(registry, {"name": "readers"})
    push = admin.get_client_role(registry, "team-a-push")
    assert push["attributes"]["docker.grant"] == ["repository:team-a/*:pull,push"]
    admin.assign_client_role(alice, registry, [push])
    assert [r["name"] for r in admin.get_client_roles_of_user(alice, registry)] == ["team-a-push"]

    # Realm roles, composites and role mappings.
    admin.create_realm_role({"name": "developer"})
    developer = admin.get_realm_role("developer")
    admin.add_composite_realm_roles_to_role("developer", [admin.get_client_role(registry, "readers")])
    assert [r["name"] for r in admin.get_composite_realm_roles_of_role("developer")] == ["readers"]
    admin.assign_realm_roles(bob, [developer])
    assert "developer" in [r["name"] for r in admin.get_realm_roles_of_user(bob)]

    # Groups, membership, group roles.
    readers = admin.create_group({"name": "readers"})
    sub = admin.create_group({"name": "interns"}, parent=readers)
    admin.assign_group_client_roles(readers, registry, [admin.get_client_role(registry, "readers")])
    admin.group_user_add(bob, sub)
    assert [m["username"] for m in admin.get_group_members(sub)] == ["bob"]
    assert admin.get_group_by_path("/readers/interns")["id"] == sub
    assert [g["path"] for g in admin.get_user_groups(bob)] == ["/readers/interns"]
    assert "readers" in [r["name"] for r in admin.get_composite_client_roles_of_user(bob, registry)]

    # Logging in as a created user, through the OpenID Connect client.
    oidc = KeycloakOpenID(server_url=keyport.url, realm_name="acme", client_id="admin-cli")
    token = oidc.token("alice", "s3cret-Alice-1")
    claims = oidc.decode_token(token["access_token"], validate=True)
    assert claims["preferred_username"] == "alice"
    assert claims["resource_access"]["registry.acme.io"]["roles"] == ["team-a-push"]
    assert claims["iss"] == f"{keyport.hostname}/realms/acme"
    assert oidc.userinfo(token["access_token"])["preferred_username"] == "alice"
    refreshed = oidc.refresh_token(token["refresh_token"])
    assert refreshed["access_token"]
    assert {k["alg"] for k in oidc.certs()["keys"]} == {"RS256", "ES256"}
    assert oidc.well_known()["issuer"] == f"{keyport.hostname}/realms/acme"
    assert oidc.public_key()
    oidc.logout(token["refresh_token"])
    with pytest.raises(Exception):
        oidc.refresh_token(token["refresh_token"])
    with pytest.raises(KeycloakAuthenticationError):
        oidc.token("alice", "wrong-password")

    # Bob logs in with the password set through set_user_password.
    assert oidc.token("bob", "bob-password-1")["access_token"]

    # A user moved from Keycloak with its PBKDF2 hash (no one knows the password but her).
    admin.create_user({"username": "carol", "enabled": True, "credentials": [{
        "type": "password",
        "secretData": '{"value":"5HgMatto68U9mGi/TjeaiInYKMsF0z5s9lP00Jsqo+c55krCgrY1V1Pbjt6H5wPxRAPqXET6wsVaqGBjGqMV6A==","salt":"a2V5Y2xvYWstc2FsdC0xNg==","additionalParameters":{}}',
        "credentialData": '{"hashIterations":27500,"algorithm":"pbkdf2-sha256","additionalParameters":{}}'}]})
    assert oidc.token("carol", "Secret-pw-1")["access_token"]

    # Key providers: Keycloak's rotation, as python-keycloak scripts it.
    realm_id = admin.get_realm("acme")["id"]
    rsa = [c for c in admin.get_components({"type": "org.keycloak.keys.KeyProvider"}) if c["providerId"] == "rsa-generated"]
    assert len(rsa) == 1 and rsa[0]["config"]["active"] == ["true"]
    new = admin.create_component({"name": "rsa-2027", "providerId": "rsa-generated", "providerType": "org.keycloak.keys.KeyProvider",
                                  "parentId": realm_id, "config": {"priority": ["200"], "keySize": ["2048"]}})
    assert admin.get_keys()["active"]["RS256"] == new  # the higher priority signs at once
    admin.update_component(rsa[0]["id"], {**rsa[0], "config": {**rsa[0]["config"], "active": ["false"]}})
    assert admin.get_component(rsa[0]["id"])["config"]["active"] == ["false"]
    with pytest.raises(KeycloakPostError) as unsupported:
        admin.create_component({"name": "h", "providerId": "hmac-generated", "providerType": "org.keycloak.keys.KeyProvider"})
    assert unsupported.value.response_code == 400
    admin.delete_component(rsa[0]["id"])
    assert [k["kid"] for k in admin.get_keys()["keys"] if k["algorithm"] == "RS256"] == [new]

    # Deleting.
    admin.delete_user(alice)
    with pytest.raises(KeycloakGetError) as missing:
        admin.get_user(alice)
    assert missing.value.response_code == 404
    admin.delete_client(registry)
    admin.change_current_realm("master")
    admin.delete_realm("acme")
    assert "acme" not in {r["realm"] for r in admin.get_realms()}


def test_create_realm_with_a_full_payload_as_python_keycloak_sends_it(keyport):
    """python-keycloak's create_realm(payload) with users, clients, roles and groups nested: a realm
    file written for Keycloak (Tests/Vectors), posted as it is; its users and service account log in."""
    admin = admin_for(keyport)
    payload = json.loads((REPO / "Tests" / "Vectors" / "keycloak-partial-realm.json").read_text())
    admin.create_realm(payload, skip_exists=False)
    admin.change_current_realm("kafka-authz")
    assert admin.get_user_id("alice")
    assert [g["name"] for g in admin.get_groups()] == ["ClusterManager Group", "Kafka Admins"]
    assert admin.get_group_by_path("/Kafka Admins/On Call")["name"] == "On Call"
    assert admin.get_realm_role("Dev Team A")["name"] == "Dev Team A"
    alice = KeycloakOpenID(server_url=keyport.url, realm_name="kafka-authz", client_id="admin-cli")
    assert "access_token" in alice.token("alice", "Secret-pw-1")
    robot = KeycloakOpenID(server_url=keyport.url, realm_name="kafka-authz", client_id="kafka-producer-client",
                           client_secret_key="kafka-producer-client-secret")
    assert "access_token" in robot.token(grant_type="client_credentials")
    admin.create_realm(payload, skip_exists=True)  # the conflict python-keycloak recognises


def test_a_default_keycloak_export_posted_as_a_realm(keyport):
    """A realm exported by `kc.sh export` (every built-in client, role, flow and scope Keycloak
    writes) posted as it is by create_realm(payload): its users log in, docker-v2 is on."""
    admin = admin_for(keyport)
    payload = json.loads((REPO / "Tests" / "Vectors" / "keycloak-registry-realm-export.json").read_text())
    admin.create_realm(payload, skip_exists=False)
    assert admin.get_realm("registry")["dockerV2Enabled"] is True
    admin.change_current_realm("registry")
    assert {c["clientId"] for c in admin.get_clients()} >= {"account", "admin-cli", "realm-management", "registry.example.com"}
    ci = KeycloakOpenID(server_url=keyport.url, realm_name="registry", client_id="admin-cli")
    token = ci.token("ci", "Secret-pw-1")
    claims = ci.decode_token(token["access_token"], validate=False)
    # The file's client scopes decide the claims (its `profile` is trimmed to no mappers; the
    # built-ins it names but lacks are Keycloak's); its admin-cli has Keycloak's fullScopeAllowed
    # off and no scope mappings, so its tokens carry no roles — here as in Keycloak.
    assert {"email", "profile"} <= set(token["scope"].split()) and claims["email"] == "ci@example.com", claims
    assert "resource_access" not in claims and "realm_access" not in claims


def test_partial_import_as_python_keycloak_sends_it(keyport):
    """python-keycloak's partial_import_realm: the users, clients, roles and groups of a realm file
    written for Keycloak added to an existing realm, with each policy for what exists already."""
    admin = admin_for(keyport)
    admin.create_realm({"realm": "kafka-authz", "enabled": True}, skip_exists=False)
    payload = json.loads((REPO / "Tests" / "Vectors" / "keycloak-partial-realm.json").read_text())
    body = {key: payload[key] for key in ("users", "clients", "roles", "groups")}
    result = admin.partial_import_realm("kafka-authz", {**body, "ifResourceExists": "FAIL"})
    assert result["added"] == len(result["results"]) and result["skipped"] == 0 and result["overwritten"] == 0
    assert {"action": "ADDED", "resourceType": "USER", "resourceName": "alice"}.items() <= next(
        r for r in result["results"] if r["resourceName"] == "alice").items()
    alice = KeycloakOpenID(server_url=keyport.url, realm_name="kafka-authz", client_id="admin-cli")
    assert "access_token" in alice.token("alice", "Secret-pw-1")
    robot = KeycloakOpenID(server_url=keyport.url, realm_name="kafka-authz", client_id="kafka-producer-client",
                           client_secret_key="kafka-producer-client-secret")
    assert "access_token" in robot.token(grant_type="client_credentials")
    # Again: FAIL refuses it whole (409), SKIP adds nothing, OVERWRITE replaces each.
    with pytest.raises(KeycloakPostError) as refused:
        admin.partial_import_realm("kafka-authz", {**body, "ifResourceExists": "FAIL"})
    assert refused.value.response_code == 409
    skipped = admin.partial_import_realm("kafka-authz", {**body, "ifResourceExists": "SKIP"})
    assert skipped["added"] == 0 and skipped["skipped"] == result["added"]
    overwritten = admin.partial_import_realm("kafka-authz", {**body, "ifResourceExists": "OVERWRITE"})
    assert overwritten["overwritten"] == result["added"]
    assert "access_token" in alice.token("alice", "Secret-pw-1")
    admin.change_current_realm("kafka-authz")
    assert admin.get_group_by_path("/Kafka Admins/On Call")["name"] == "On Call"


def test_a_realm_admin_manages_only_its_realm(keyport):
    admin = admin_for(keyport)
    for name in ("team1", "team2"):
        admin.create_realm({"realm": name, "enabled": True})
    admin.change_current_realm("team1")
    ops = admin.create_user({"username": "ops", "enabled": True, "credentials": [{"type": "password", "value": "ops-pass-1"}]})
    management = admin.get_client_id("realm-management")
    admin.assign_client_role(ops, management, [admin.get_client_role(management, "realm-admin")])

    connection = KeycloakOpenIDConnection(server_url=keyport.url, username="ops", password="ops-pass-1",
                                          realm_name="team1", user_realm_name="team1", client_id="admin-cli", verify=False)
    team_admin = KeycloakAdmin(connection=connection)
    team_admin.create_user({"username": "new-hire", "enabled": True})
    assert team_admin.users_count() == 2
    team_admin.change_current_realm("team2")
    with pytest.raises(KeycloakGetError) as denied:
        team_admin.get_users()
    assert denied.value.response_code == 403


def test_client_scopes_admin_events_and_sessions_as_python_keycloak_uses_them(keyport):
    """What python-keycloak's own suite exercises beyond users and roles: client scopes and their
    effect on tokens, admin events, sessions, partial export, and logging in again when the
    refresh token's session has ended."""
    admin = admin_for(keyport)
    admin.create_realm({"realm": "scopes", "enabled": True}, skip_exists=False)
    admin.change_current_realm("scopes")
    admin.set_events({"adminEventsEnabled": True, "adminEventsDetailsEnabled": True, "eventsEnabled": True})

    # A client scope with a hard-coded claim, made a default of a confidential client.
    scope = admin.create_client_scope({"name": "tenant", "protocol": "openid-connect", "protocolMappers": [
        {"name": "tenant", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
         "config": {"claim.name": "tenant", "claim.value": "scopes", "access.token.claim": True}}]})
    assert admin.create_client_scope({"name": "tenant"}, skip_exists=True) == scope
    assert admin.get_client_scope_by_name("tenant")["id"] == scope
    assert "profile" in [s["name"] for s in admin.get_default_default_client_scopes()]
    app = admin.create_client({"clientId": "app", "publicClient": False, "secret": "app-secret-1"})
    admin.add_client_default_client_scope(app, scope, {"realm": "scopes", "client": app, "clientScopeId": scope})
    assert "tenant" in [s["name"] for s in admin.get_client_default_client_scopes(app)]
    admin.create_realm_role({"name": "ops"})
    admin.assign_realm_roles_to_client_scope(app, [admin.get_realm_role("ops")])
    assert [r["name"] for r in admin.get_realm_roles_of_client_scope(app)] == ["ops"]
    user = admin.create_user({"username": "carol", "enabled": True,
                              "credentials": [{"type": "password", "value": "Carol-pw-12", "temporary": False}]})

    # The token carries the scope's claim; without fullScopeAllowed, only the mapped role.
    oidc = KeycloakOpenID(server_url=keyport.url, realm_name="scopes", client_id="app", client_secret_key="app-secret-1")
    token = oidc.token("carol", "Carol-pw-12")
    claims = oidc.decode_token(token["access_token"], validate=False)
    assert claims["tenant"] == "scopes" and claims["preferred_username"] == "carol"
    assert "email" in token["scope"].split()
    admin.update_client(app, {"fullScopeAllowed": False})
    assert "realm_access" not in oidc.decode_token(oidc.token("carol", "Carol-pw-12")["access_token"], validate=False)
    admin.assign_realm_roles(user, [admin.get_realm_role("ops")])
    roles = oidc.decode_token(oidc.token("carol", "Carol-pw-12")["access_token"], validate=False)["realm_access"]["roles"]
    assert roles == ["ops"], roles

    # Sessions, by user and by client; a refresh after logout says what python-keycloak looks for.
    assert len(admin.get_sessions(user)) >= 3
    assert {s["username"] for s in admin.get_client_all_sessions(app)} == {"carol"}
    oidc.logout(token["refresh_token"])
    with pytest.raises(KeycloakPostError) as ended:
        oidc.refresh_token(token["refresh_token"])
    assert b"Session not active" in ended.value.response_body

    # Admin events: who did what, with secrets redacted.
    events = admin.get_admin_events({"resourceTypes": "CLIENT"})
    assert [e["operationType"] for e in events] == ["UPDATE", "CREATE"], events
    assert "app-secret-1" not in json.dumps(admin.get_admin_events())
    created = [e["resourcePath"] for e in admin.get_admin_events({"resourcePath": "users/*", "operationTypes": "CREATE"})]
    assert created == [f"users/{user}/role-mappings/realm", f"users/{user}"], created

    # Partial export: settings, clients (secrets masked) and roles; never users.
    exported = admin.connection.raw_post(f"admin/realms/scopes/partial-export?exportClients=true&exportGroupsAndRoles=true", data="").json()
    assert "users" not in exported and "app-secret-1" not in json.dumps(exported)
    assert "tenant" in [s["name"] for s in exported["clientScopes"]]
    assert admin.groups_count({"search": "nothing"}) == {"count": 0}
    admin.delete_client_scope(scope)
    assert "tenant" not in [s["name"] for s in admin.get_client_scopes()]
