//! Members, invitations and roles: who may do what, checked on every route.

use serde_json::json;
use switchboard_core::model::{Family, Grants, Role};
use switchboard_core::ports::{AccountStore, Team};
use switchboard_http::Access;
use switchboard_tests::TestApp;

use crate::isolation::routes;

/// Each route, asked by a session of each built-in role and of a custom one, is refused with
/// 403 `permission_denied` exactly when the role's grants do not cover the route's family at
/// the route's scope.
#[tokio::test]
async fn every_route_answers_each_role_by_the_permission_matrix() {
    let app = TestApp::unlimited().await;
    let t = app.tenant().await;
    let custom = app
        .post("/v1/roles")
        .bearer(&t.token)
        .json(json!({"name": "Campaigns", "grants": {"agents": "read", "campaigns": "write", "contacts": "admin"}}))
        .send()
        .await;
    custom.expect(201);
    let custom_id = custom.id().to_owned();
    let custom_grants: Grants = serde_json::from_value(custom.body["grants"].clone()).unwrap();
    let mut people = vec![(
        Role::Owner.built_in_grants().unwrap(),
        "owner".to_owned(),
        t.token.clone(),
    )];
    for role in [Role::Admin, Role::Member, Role::Viewer] {
        let member = app.invite_member(&t, role.as_str()).await;
        people.push((role.built_in_grants().unwrap(), role.as_str().to_owned(), member.token));
    }
    people.push((
        custom_grants,
        "custom".to_owned(),
        app.invite_member(&t, &custom_id).await.token,
    ));

    let mut checked = 0;
    for route in routes() {
        let (Access::Scoped(needed) | Access::Session(needed)) = route.access else {
            continue;
        };
        // Only the caller's own account is outside every family.
        let Some(family) = Family::of_path(route.path) else {
            assert!(
                route.path.starts_with("/v1/auth/"),
                "{} {} belongs to no family, so no role restricts it",
                route.method,
                route.path
            );
            continue;
        };
        let path = route.path.replace("{id}", "x0").replace("{phone_e164}", "x0");
        let required: Vec<String> = route
            .query
            .iter()
            .filter(|q| q.required)
            .map(|q| format!("{}=x", q.name))
            .collect();
        let path = if required.is_empty() {
            path
        } else {
            format!("{path}?{}", required.join("&"))
        };
        for (grants, name, token) in &people {
            let res = app.request(route.method.clone(), &path).bearer(token).send().await;
            let what = format!("{name}: {} {}", route.method, route.path);
            if grants.allows(family, needed) {
                assert_ne!(res.code(), "permission_denied", "{what}: {}", res.text);
                assert_ne!(res.status, 401, "{what}: {}", res.text);
            } else {
                assert_eq!(
                    (res.status, res.code()),
                    (403, "permission_denied"),
                    "{what}: {}",
                    res.text
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} checks");
}

#[tokio::test]
async fn an_invited_person_joins_through_the_emailed_token_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = app.invite_member(&t, "viewer").await;
    let me = app.get("/v1/auth/me").bearer(&member.token).send().await;
    me.expect(200);
    assert_eq!(me.body["user"]["role"], "viewer");
    assert_eq!(me.body["workspace"]["id"], t.workspace_id.as_str());
    app.post("/v1/agents")
        .bearer(&member.token)
        .json(json!({"name": "a", "system_prompt": "p"}))
        .send()
        .await
        .expect_error(403, "permission_denied");
    app.get("/v1/agents").bearer(&member.token).send().await.expect(200);
    // Signing in again works with the password chosen.
    app.login(&member.email, &member.password).await;

    // Re-inviting retires the earlier link; each link works once; an old one expires.
    // Its own address: the table outlives one run.
    let email = &format!("twice-{}@example.com", switchboard_tests::random_suffix());
    for _ in 0..2 {
        app.post("/v1/users/invite")
            .bearer(&t.token)
            .json(json!({"email": email, "role": "member"}))
            .send()
            .await
            .expect(201);
    }
    let newest = app.invitation_token(email).await;
    let accept = |token: String| {
        app.post("/v1/auth/accept-invitation")
            .json(json!({"token": token, "password": "long enough password"}))
            .send()
    };
    accept(newest.clone()).await.expect(200);
    accept(newest).await.expect_error(400, "invalid_token");

    app.post("/v1/users/invite")
        .bearer(&t.token)
        .json(json!({"email": "late@example.com", "role": "member"}))
        .send()
        .await
        .expect(201);
    let late = app.invitation_token("late@example.com").await;
    app.advance(chrono::Duration::days(8)).await;
    accept(late).await.expect_error(400, "invalid_token");

    let owner = app.login(&t.email, &t.password).await;
    let members = app
        .get("/v1/users")
        .bearer(owner.body["token"].as_str().unwrap())
        .send()
        .await;
    members.expect(200);
    let emails: Vec<&str> = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, [t.email.as_str(), member.email.as_str(), email]);
    assert!(members.body["data"][1]["last_seen_at"].is_string(), "{}", members.text);
}

#[tokio::test]
async fn a_person_with_an_account_joins_a_second_workspace_and_picks_it_at_login() {
    let app = TestApp::spawn().await;
    let (first, second) = (app.tenant().await, app.tenant().await);
    use switchboard_core::ports::AccountStore;
    app.store
        .mark_email_verified(&second.workspace_id, &second.user_id, app.clock.now())
        .await
        .unwrap();
    app.post("/v1/users/invite")
        .bearer(&second.token)
        .json(json!({"email": first.email, "role": "admin"}))
        .send()
        .await
        .expect(201);
    let token = app.invitation_token(&first.email).await;
    let joined = app
        .post("/v1/auth/accept-invitation")
        .json(json!({"token": token}))
        .send()
        .await;
    joined.expect(200);
    assert_eq!(joined.body["workspace"]["id"], second.workspace_id.as_str());
    assert_eq!(joined.body["user"]["id"], first.user_id.as_str());
    // The first workspace stays the default; the second is a choice.
    let default = app.login(&first.email, &first.password).await;
    assert_eq!(default.body["workspace"]["id"], first.workspace_id.as_str());
    let chosen = app
        .post("/v1/auth/login")
        .json(json!({"email": first.email, "password": first.password, "workspace_id": second.workspace_id}))
        .send()
        .await;
    chosen.expect(200);
    assert_eq!(chosen.body["user"]["role"], "admin");
    let stranger = app.tenant().await;
    app.post("/v1/auth/login")
        .json(json!({"email": first.email, "password": first.password, "workspace_id": stranger.workspace_id}))
        .send()
        .await
        .expect_error(403, "account_inactive");
}

#[tokio::test]
async fn role_changes_and_removal_reach_sessions_and_keys_on_their_next_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = app.invite_member(&t, "member").await;
    let key = app
        .post("/v1/api-keys")
        .bearer(&member.token)
        .json(json!({"name": "mine", "scope": "write"}))
        .send()
        .await;
    key.expect(201);
    let key = key.body["secret"].as_str().unwrap().to_owned();
    let create = |credential: String| {
        app.post("/v1/agents")
            .bearer(&credential)
            .json(json!({"name": "a", "system_prompt": "p"}))
            .send()
    };
    create(key.clone()).await.expect(201);

    app.patch(&format!("/v1/users/{}", member.user_id))
        .bearer(&t.token)
        .json(json!({"role": "viewer"}))
        .send()
        .await
        .expect(200);
    create(member.token.clone())
        .await
        .expect_error(403, "permission_denied");
    create(key.clone()).await.expect_error(403, "permission_denied");
    app.get("/v1/agents").bearer(&key).send().await.expect(200);

    app.delete(&format!("/v1/users/{}", member.user_id))
        .bearer(&t.token)
        .send()
        .await
        .expect(200);
    app.get("/v1/agents")
        .bearer(&member.token)
        .send()
        .await
        .expect_error(401, "invalid_credential");
    app.get("/v1/agents")
        .bearer(&key)
        .send()
        .await
        .expect_error(401, "credential_revoked");
    app.post("/v1/auth/login")
        .json(json!({"email": member.email, "password": member.password}))
        .send()
        .await
        .expect_error(403, "account_inactive");
}

#[tokio::test]
async fn the_last_owner_stays_even_when_two_owners_demote_each_other_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let me = format!("/v1/users/{}", t.user_id);
    app.patch(&me)
        .bearer(&t.token)
        .json(json!({"role": "admin"}))
        .send()
        .await
        .expect_error(409, "last_owner");
    app.delete(&me)
        .bearer(&t.token)
        .send()
        .await
        .expect_error(409, "last_owner");

    let other = app.invite_member(&t, "owner").await;
    let them = format!("/v1/users/{}", other.user_id);
    let (a, b) = tokio::join!(
        app.patch(&me)
            .bearer(&other.token)
            .json(json!({"role": "admin"}))
            .send(),
        app.patch(&them).bearer(&t.token).json(json!({"role": "admin"})).send(),
    );
    // One wins; the other is refused as the last owner's demotion (409), or, when the winner's
    // change reached the loser's session first, as no longer an owner's to make (403).
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(
        statuses == [200, 409] || statuses == [200, 403],
        "{} / {}",
        a.text,
        b.text
    );
    let owners = app.get("/v1/users").bearer(&t.token).send().await;
    let count = owners.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "owner")
        .count();
    assert_eq!(count, 1, "{}", owners.text);

    // Admins neither make nor remove owners.
    let admin = app.invite_member(&t, "admin").await;
    app.patch(&format!("/v1/users/{}", admin.user_id))
        .bearer(&admin.token)
        .json(json!({"role": "owner"}))
        .send()
        .await
        .expect_error(403, "permission_denied");
    let owner_id = owners.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("/v1/users/{owner_id}"))
        .bearer(&admin.token)
        .send()
        .await
        .expect_error(403, "permission_denied");
}

#[tokio::test]
async fn a_custom_role_is_not_deleted_while_held_and_its_edits_apply_at_once() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let role = app
        .post("/v1/roles")
        .bearer(&t.token)
        .json(json!({"name": "Readers", "grants": {"agents": "read"}}))
        .send()
        .await;
    role.expect(201);
    let role_path = format!("/v1/roles/{}", role.id());
    let member = app.invite_member(&t, role.id()).await;
    app.get("/v1/calls")
        .bearer(&member.token)
        .send()
        .await
        .expect_error(403, "permission_denied");
    app.patch(&role_path)
        .bearer(&t.token)
        .json(json!({"grants": {"agents": "read", "calls": "read"}}))
        .send()
        .await
        .expect(200);
    app.get("/v1/calls").bearer(&member.token).send().await.expect(200);
    app.delete(&role_path)
        .bearer(&t.token)
        .send()
        .await
        .expect_error(409, "role_in_use");
    app.patch(&format!("/v1/users/{}", member.user_id))
        .bearer(&t.token)
        .json(json!({"role": "viewer"}))
        .send()
        .await
        .expect(200);
    app.delete(&role_path).bearer(&t.token).send().await.expect(200);
    let listed = app.get("/v1/roles").bearer(&t.token).send().await;
    let ids: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["owner", "admin", "member", "viewer"]);
    // A key's scope cannot exceed everything its creator's role grants.
    app.post("/v1/api-keys")
        .bearer(&member.token)
        .json(json!({"name": "x", "scope": "write"}))
        .send()
        .await
        .expect_error(403, "permission_denied");
}

/// A role that administers members gives nobody, its holder included, more than it grants:
/// not by inviting, changing a member's role, or creating or widening a role; nor does it act
/// on members who hold more. Nothing refused is written.
#[tokio::test]
async fn a_custom_role_administering_members_cannot_raise_anyone_above_itself() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let staff = app
        .post("/v1/roles")
        .bearer(&t.token)
        .json(json!({"name": "Staff", "grants": {"workspace": "admin", "agents": "write"}}))
        .send()
        .await;
    staff.expect(201);
    let staff = staff.id().to_owned();
    let manager = app.invite_member(&t, &staff).await;
    let admin = app.invite_member(&t, "admin").await;
    app.store
        .mark_email_verified(&t.workspace_id, &manager.user_id, app.clock.now())
        .await
        .unwrap();
    let before = app.snapshot(&t.workspace_id).await;
    let refused = [
        (
            "POST",
            "/v1/users/invite".to_owned(),
            json!({"email": "x@example.com", "role": "admin"}),
        ),
        (
            "PATCH",
            format!("/v1/users/{}", manager.user_id),
            json!({"role": "admin"}),
        ),
        (
            "PATCH",
            format!("/v1/users/{}", admin.user_id),
            json!({"role": "viewer"}),
        ),
        ("DELETE", format!("/v1/users/{}", admin.user_id), json!(null)),
        (
            "POST",
            "/v1/roles".to_owned(),
            json!({"name": "More", "grants": {"billing": "admin"}}),
        ),
        (
            "PATCH",
            format!("/v1/roles/{staff}"),
            json!({"grants": {"workspace": "admin", "agents": "admin"}}),
        ),
    ];
    for (method, path, body) in refused {
        let request = app.request(method.parse().unwrap(), &path).bearer(&manager.token);
        let request = if body.is_null() { request } else { request.json(body) };
        request.send().await.expect_error(403, "permission_denied");
    }
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
    let me = app.get("/v1/auth/me").bearer(&manager.token).send().await;
    assert_eq!(me.body["user"]["role"], staff.as_str());
    // What its own grants cover, it may give.
    let agents = app
        .post("/v1/roles")
        .bearer(&manager.token)
        .json(json!({"name": "Agents", "grants": {"agents": "write"}}))
        .send()
        .await;
    agents.expect(201);
    app.post("/v1/users/invite")
        .bearer(&manager.token)
        .json(json!({"email": "y@example.com", "role": agents.id()}))
        .send()
        .await
        .expect(201);
}

#[tokio::test]
async fn inviting_needs_a_verified_email_and_refuses_members_and_unknown_roles() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let invite = |body: serde_json::Value| app.post("/v1/users/invite").bearer(&t.token).json(body).send();
    invite(json!({"email": "x@example.com", "role": "member"}))
        .await
        .expect_error(403, "email_not_verified");
    let member = app.invite_member(&t, "member").await;
    invite(json!({"email": member.email, "role": "viewer"}))
        .await
        .expect_error(409, "already_member");
    invite(json!({"email": "y@example.com", "role": "rol_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}))
        .await
        .expect_error(404, "role_not_found");
    let res = invite(json!({"email": "y@example.com", "role": "superuser"})).await;
    assert_eq!(res.status, 400, "{}", res.text);
    app.post("/v1/users/invite")
        .bearer(&member.token)
        .json(json!({"email": "z@example.com", "role": "viewer"}))
        .send()
        .await
        .expect_error(403, "permission_denied");
    app.post("/v1/users/invite")
        .bearer(&t.key)
        .json(json!({"email": "z@example.com", "role": "viewer"}))
        .send()
        .await
        .expect_error(403, "session_required");
}

#[tokio::test]
async fn a_suspended_workspace_is_refused_on_every_credentials_next_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let member = app.invite_member(&t, "member").await;
    app.store
        .set_suspended(&t.workspace_id, true, app.clock.now())
        .await
        .unwrap();
    for credential in [&t.key, &t.token, &member.token] {
        app.get("/v1/agents")
            .bearer(credential)
            .send()
            .await
            .expect_error(403, "account_inactive");
    }
    app.post("/v1/auth/login")
        .json(json!({"email": t.email, "password": t.password}))
        .send()
        .await
        .expect_error(403, "account_inactive");
    app.store
        .set_suspended(&t.workspace_id, false, app.clock.now())
        .await
        .unwrap();
    for credential in [&t.key, &t.token, &member.token] {
        app.get("/v1/agents").bearer(credential).send().await.expect(200);
    }
}
