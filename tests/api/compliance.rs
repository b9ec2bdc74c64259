//! Data-subject requests: a person's data exported in one bundle, or erased (resumably), with
//! their do-not-call entry still blocking their number.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use switchboard_core::StoreError;
use switchboard_core::model::Call;
use switchboard_core::ports::{DncStore, ListQuery, Page, Quota, Repository, Unique, Versioned};
use switchboard_tests::{Res, Tenant, TestApp};

/// A person known only to this test: a number, an email and a name no other test uses.
struct Person {
    phone: String,
    email: String,
    name: String,
}

impl Person {
    fn new() -> Self {
        let tag: u32 = rand::random::<u32>() % 1_000_000;
        Self {
            phone: format!("+1415{}{:04}", 200 + rand::random::<u16>() % 800, 1000 + tag % 9000),
            email: format!("dsr.{tag}@example.com"),
            name: format!("Dora Subject {tag}"),
        }
    }
}

/// What the seed made, by id.
struct Seeded {
    contact: String,
    call: String,
    campaign: String,
    /// Another contact of the same workspace, with a chat of its own.
    neighbour: String,
}

/// A person who chatted (booking an appointment, asking for a refund), was called, is in a
/// campaign's audience and its cool-down, and asked not to be called again.
async fn seed(app: &TestApp, t: &Tenant, person: &Person) -> Seeded {
    let (agent, number, _) = app.phone_line(t).await;
    let contact = app
        .create(
            t,
            "/v1/contacts",
            json!({"phone": person.phone, "email": person.email, "name": person.name}),
        )
        .await;
    let chat = |body: Value| {
        app.post(&format!("/v1/agents/{agent}/messages"))
            .bearer(&t.key)
            .json(body)
            .send()
    };
    let first = chat(json!({"contact_id": contact, "content": format!("Hi, I'm {}", person.name)})).await;
    first.expect(201);
    let conversation = first.body["conversation_id"].as_str().unwrap().to_owned();
    for content in [
        "Can I book an appointment for tomorrow?",
        "And I'd like a refund of $20, please.",
    ] {
        chat(json!({"conversation_id": conversation, "content": content}))
            .await
            .expect(200);
    }
    let call = app
        .create(
            t,
            "/v1/calls",
            json!({"agent_id": agent, "phone_number_id": number, "contact_id": contact, "metadata": {"crm_email": person.email}}),
        )
        .await;
    app.run_call_jobs_until_final(t, &call).await;

    let campaign =
        switchboard_tests::draft_campaign(app, t, json!({"agent_id": agent, "phone_number_id": number})).await;
    app.post(&format!("/v1/campaigns/{campaign}/audience"))
        .bearer(&t.key)
        .json(json!({"rows": [{"phone": person.phone, "name": person.name}]}))
        .send()
        .await
        .expect(201);
    app.store
        .start_cooldown(&t.workspace_id, &person.phone, &campaign, app.clock.now())
        .await
        .unwrap();
    app.post("/v1/dnc")
        .bearer(&t.key)
        .json(json!({"phone_e164": person.phone, "reason": format!("{} asked by email", person.name)}))
        .send()
        .await
        .expect(201);

    let other = Person::new();
    let neighbour = app.create(t, "/v1/contacts", json!({"phone": other.phone})).await;
    chat(json!({"contact_id": neighbour, "content": "Hello from someone else"}))
        .await
        .expect(201);
    Seeded {
        contact,
        call,
        campaign,
        neighbour,
    }
}

async fn dsr(app: &TestApp, t: &Tenant, action: &str, body: Value) -> Res {
    app.post(&format!("/v1/dsr/{action}"))
        .bearer(&t.key)
        .json(body)
        .send()
        .await
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn an_export_holds_everything_about_the_person_and_nothing_of_anyone_else() {
    let app = TestApp::spawn().await;
    let (t, other_workspace) = (app.tenant().await, app.tenant().await);
    let person = Person::new();
    let seeded = seed(&app, &t, &person).await;
    // The same number in another workspace is another workspace's business.
    let theirs = app
        .create(&other_workspace, "/v1/contacts", json!({"phone": person.phone}))
        .await;

    for body in [
        json!({"contact_identifier": person.phone}),
        json!({"contact_identifier": person.email.to_uppercase()}),
        json!({"contact_id": seeded.contact}),
    ] {
        let res = dsr(&app, &t, "export", body.clone()).await;
        res.expect(200);
        let bundle = &res.body;
        assert_eq!(bundle["object"], "dsr_export");
        assert_eq!(
            ids(&bundle["contacts"]),
            std::slice::from_ref(&seeded.contact),
            "{body}"
        );
        assert_eq!(ids(&bundle["calls"]), std::slice::from_ref(&seeded.call));
        assert!(
            !bundle["calls"][0]["transcript"].as_array().unwrap().is_empty(),
            "with its transcript"
        );
        assert!(bundle["calls"][0]["summary"].is_string(), "and its analysis");
        assert_eq!(
            bundle["conversations"].as_array().unwrap().len(),
            2,
            "the chat and the call's conversation"
        );
        assert_eq!(bundle["appointments"].as_array().unwrap().len(), 1);
        assert_eq!(bundle["approvals"].as_array().unwrap().len(), 1);
        assert_eq!(bundle["do_not_call"][0]["phone_e164"], person.phone.as_str());
        assert_eq!(bundle["cooldowns"][0]["campaign_id"], seeded.campaign.as_str());
        assert_eq!(bundle["campaign_targets"][0]["campaign_id"], seeded.campaign.as_str());
        assert_eq!(bundle["timeline"].as_array().unwrap().len(), 4);
        let audited: Vec<&str> = bundle["audit_entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert!(
            audited.contains(&"contact.create") && audited.contains(&"call.create"),
            "{audited:?}"
        );
        let text = bundle.to_string();
        for stranger in [&seeded.neighbour, &theirs, &other_workspace.workspace_id] {
            assert!(!text.contains(stranger.as_str()), "the bundle names {stranger}");
        }
    }
    let events = app.event_types(&t.workspace_id).await;
    assert_eq!(events.iter().filter(|e| *e == "dsr.exported").count(), 3);

    // Another workspace learns nothing about this one's contact.
    dsr(&app, &other_workspace, "export", json!({"contact_id": seeded.contact}))
        .await
        .expect_error(404, "contact_not_found");
    let theirs_only = dsr(
        &app,
        &other_workspace,
        "export",
        json!({"contact_identifier": person.phone}),
    )
    .await;
    theirs_only.expect(200);
    assert_eq!(ids(&theirs_only.body["contacts"]), [theirs]);
    assert!(theirs_only.body["calls"].as_array().unwrap().is_empty());
    assert!(theirs_only.body["do_not_call"].as_array().unwrap().is_empty());
}

/// Every item of the table (all workspaces) whose text holds one of `needles`, except those
/// of `except`'s workspace.
async fn items_holding(app: &TestApp, needles: &[&str], except: &str) -> Vec<String> {
    app.whole_table()
        .await
        .into_iter()
        .filter(|text| !text.contains(except) && needles.iter().any(|needle| text.contains(needle)))
        .collect()
}

/// After erasure: nothing of the person anywhere, the call kept for the ledger, the number
/// still blocked.
async fn assert_erased(app: &TestApp, t: &Tenant, person: &Person, seeded: &Seeded, other_workspace: &str) {
    let digits = person.phone.trim_start_matches('+');
    let left = items_holding(app, &[digits, &person.email, &person.name], other_workspace).await;
    assert!(left.is_empty(), "personal data left: {left:#?}");

    let call = app
        .get(&format!("/v1/calls/{}", seeded.call))
        .bearer(&t.key)
        .send()
        .await;
    call.expect(200);
    assert_eq!(call.body["to"], "+1", "the country code is what the price depended on");
    assert!(
        call.body["duration_seconds"].is_u64() && call.body["cost"].is_object(),
        "{}",
        call.text
    );
    assert!(call.body["transcript"].as_array().unwrap().is_empty());
    assert!(call.body["contact_id"].is_null() && call.body["summary"].is_null());
    app.get(&format!("/v1/contacts/{}", seeded.contact))
        .bearer(&t.key)
        .send()
        .await
        .expect_error(404, "contact_not_found");
    let neighbour = app
        .get(&format!("/v1/contacts/{}", seeded.neighbour))
        .bearer(&t.key)
        .send()
        .await;
    neighbour.expect(200);

    // Erasing someone never makes them callable again.
    let (agent, number, _) = app.phone_line(t).await;
    app.post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number, "to": person.phone}))
        .send()
        .await
        .expect_error(403, "number_on_dnc");
    let check = app
        .get(&format!(
            "/v1/dnc/check?phone_e164={}",
            person.phone.replace('+', "%2B")
        ))
        .bearer(&t.key)
        .send()
        .await;
    check.expect(200);
    assert_eq!(check.body["on_dnc"], true);

    // Audit entries stay, naming the person's resources by pseudonyms.
    let by_contact = app
        .get(&format!("/v1/audit?resource_id={}", seeded.contact))
        .bearer(&t.key)
        .send()
        .await;
    assert!(
        by_contact.body["data"].as_array().unwrap().is_empty(),
        "{}",
        by_contact.text
    );
    let created = app.get("/v1/audit?action=contact.create").bearer(&t.key).send().await;
    let pseudonymised = created.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["id"].as_str().unwrap().starts_with("ps_"))
        .count();
    assert_eq!(pseudonymised, 1, "{}", created.text);
    let erased_event = app
        .events(&t.workspace_id)
        .await
        .into_iter()
        .find(|e| e["event"] == "dsr.erased")
        .expect("dsr.erased is sent");
    assert_eq!(erased_event["data"]["contact_ids"], json!([seeded.contact]));
}

/// A call to the person's number placed with no contact of theirs.
async fn call_with_no_contact(app: &TestApp, t: &Tenant, person: &Person) -> String {
    let (agent, number, _) = app.phone_line(t).await;
    app.create(
        t,
        "/v1/calls",
        json!({"agent_id": agent, "phone_number_id": number, "to": person.phone}),
    )
    .await
}

/// Someone the workspace called with no contact of theirs (a number dialled directly) is found
/// by their number: their call is in the export, and erasure leaves nothing of them on it.
#[tokio::test]
async fn a_call_to_a_number_no_contact_has_is_exported_and_erased_by_the_number() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let person = Person::new();
    let call = call_with_no_contact(&app, &t, &person).await;
    app.run_call_jobs_until_final(&t, &call).await;
    let path = format!("/v1/calls/{call}");
    let made = app.get(&path).bearer(&t.key).send().await;
    assert!(made.body["contact_id"].is_null(), "{}", made.text);
    assert!(!made.body["transcript"].as_array().unwrap().is_empty());

    let subject = json!({"contact_identifier": person.phone});
    let export = dsr(&app, &t, "export", subject.clone()).await;
    export.expect(200);
    assert!(export.text.contains(&call), "{}", export.text);
    let erased = dsr(&app, &t, "erase", subject).await;
    erased.expect(200);
    assert_eq!(erased.body["calls_pseudonymised"], 1, "{}", erased.text);
    let after = app.get(&path).bearer(&t.key).send().await;
    assert_eq!(after.body["to"], "+1");
    assert!(after.body["transcript"].as_array().unwrap().is_empty());
    assert!(after.body["conversation_id"].is_null());
    let digits = person.phone.trim_start_matches('+');
    let left = items_holding(&app, &[digits], "no item holds this").await;
    assert!(left.is_empty(), "personal data left: {left:#?}");
}

/// A call made with no contact before such calls were on their number's timeline is put there
/// by the upgrade's reindex, once, and then found by number.
#[tokio::test]
async fn the_reindex_puts_an_older_call_on_its_numbers_timeline() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let person = Person::new();
    let call = call_with_no_contact(&app, &t, &person).await;
    // As such a call was stored before: on no timeline.
    app.store
        .client()
        .update_item()
        .table_name(app.store.table())
        .key("PK", AttributeValue::S(format!("{}#CALL", t.workspace_id)))
        .key("SK", AttributeValue::S(call.clone()))
        .update_expression("REMOVE GSI3PK, GSI3SK")
        .send()
        .await
        .unwrap();
    let subject = json!({"contact_identifier": person.phone});
    let export = dsr(&app, &t, "export", subject.clone()).await;
    assert!(!export.text.contains(&call), "not found before the reindex");

    assert!(app.store.reindex_calls().await.unwrap() >= 1);
    let export = dsr(&app, &t, "export", subject).await;
    assert!(export.text.contains(&call), "{}", export.text);
    let stored = app.get(&format!("/v1/calls/{call}")).bearer(&t.key).send().await;
    assert_eq!(stored.body["to"], person.phone.as_str(), "the call itself unchanged");
}

#[tokio::test]
async fn erasure_leaves_no_personal_field_and_the_number_blocked() {
    let app = TestApp::spawn().await;
    let (t, other_workspace) = (app.tenant().await, app.tenant().await);
    let person = Person::new();
    let seeded = seed(&app, &t, &person).await;
    let theirs = app
        .create(
            &other_workspace,
            "/v1/contacts",
            json!({"phone": person.phone, "name": person.name}),
        )
        .await;

    let res = dsr(&app, &t, "erase", json!({"contact_identifier": person.email})).await;
    res.expect(200);
    let report = &res.body;
    assert_eq!(
        (
            &report["contacts_deleted"],
            &report["calls_pseudonymised"],
            &report["conversations_deleted"],
            &report["appointments_deleted"],
            &report["approvals_pseudonymised"],
            &report["campaign_targets_deleted"],
            &report["list_entries_pseudonymised"],
        ),
        (
            &json!(1),
            &json!(1),
            &json!(2),
            &json!(1),
            &json!(1),
            &json!(1),
            &json!(1)
        ),
        "{}",
        res.text
    );
    assert_erased(&app, &t, &person, &seeded, &other_workspace.workspace_id).await;
    // The other workspace's contact with the same number is untouched.
    app.get(&format!("/v1/contacts/{theirs}"))
        .bearer(&other_workspace.key)
        .send()
        .await
        .expect(200);

    // Asking again is harmless.
    let again = dsr(&app, &t, "erase", json!({"contact_identifier": person.phone})).await;
    again.expect(200);
    assert_eq!(again.body["calls_pseudonymised"], 0);
}

/// Calls that cannot be written: the worker dies when it reaches them.
struct DyingCalls(Arc<dyn Repository<Call>>);

#[async_trait]
impl Repository<Call> for DyingCalls {
    async fn insert(
        &self,
        ws: &str,
        value: &Call,
        quota: Option<Quota>,
        events: &[switchboard_core::model::Event],
    ) -> Result<Versioned<Call>, StoreError> {
        self.0.insert(ws, value, quota, events).await
    }
    async fn get(&self, ws: &str, id: &str) -> Result<Option<Versioned<Call>>, StoreError> {
        self.0.get(ws, id).await
    }
    async fn update(
        &self,
        _: &str,
        _: &Versioned<Call>,
        _: &Call,
        _: &[switchboard_core::model::Event],
    ) -> Result<Versioned<Call>, StoreError> {
        Err(StoreError::Other(anyhow::anyhow!("the worker died")))
    }
    async fn delete(&self, ws: &str, current: &Versioned<Call>, quota: Option<Quota>) -> Result<(), StoreError> {
        self.0.delete(ws, current, quota).await
    }
    async fn query(&self, ws: &str, query: &ListQuery) -> Result<Page<Versioned<Call>>, StoreError> {
        self.0.query(ws, query).await
    }
    async fn find_unique(&self, ws: &str, unique: &Unique) -> Result<Option<Versioned<Call>>, StoreError> {
        self.0.find_unique(ws, unique).await
    }
}

#[tokio::test]
async fn an_erasure_stopped_half_way_is_finished_by_the_next() {
    let app = TestApp::spawn().await;
    let (t, other_workspace) = (app.tenant().await, app.tenant().await);
    let person = Person::new();
    let seeded = seed(&app, &t, &person).await;

    let mut dying = compliance::State::of(&app.store, app.recordings.clone(), app.exports.clone());
    dying.calls = Arc::new(DyingCalls(Arc::new(app.store.clone())));
    let request = compliance::subject::SubjectRequest {
        contact_identifier: Some(person.phone.clone()),
        contact_id: None,
    };
    let resolved = compliance::subject::resolve(&dying, &t.workspace_id, request)
        .await
        .unwrap();
    let died = compliance::erase::run(&dying, &t.workspace_id, resolved, app.clock.now()).await;
    assert!(died.is_err(), "the run stops at the call");
    // Half-way: the campaign target is gone, the contact is still there.
    assert!(app.targets(&t, &seeded.campaign).await.is_empty());
    app.get(&format!("/v1/contacts/{}", seeded.contact))
        .bearer(&t.key)
        .send()
        .await
        .expect(200);

    dsr(&app, &t, "erase", json!({"contact_id": seeded.contact}))
        .await
        .expect(200);
    assert_erased(&app, &t, &person, &seeded, &other_workspace.workspace_id).await;
}

#[tokio::test]
async fn data_subject_requests_need_one_known_subject_and_the_right_credential() {
    let app = TestApp::spawn().await;
    let (t, other) = (app.tenant().await, app.tenant().await);
    let contact = app
        .create(&t, "/v1/contacts", json!({"phone": Person::new().phone}))
        .await;
    let (read_only, write) = (app.key(&t, "read").await, app.key(&t, "write").await);
    let before = app.snapshot(&t.workspace_id).await;
    for action in ["export", "erase"] {
        for (body, status, code) in [
            (json!({}), 422, "validation_failed"),
            (
                json!({"contact_id": contact, "contact_identifier": "+14155550100"}),
                422,
                "validation_failed",
            ),
            (
                json!({"contact_identifier": "not a number"}),
                400,
                "invalid_phone_number",
            ),
            (json!({"contact_identifier": "a@"}), 400, "invalid_email"),
            (
                json!({"contact_id": "con_01JD3QZ9R6X4Y7T2W8V5N1M0KA"}),
                404,
                "contact_not_found",
            ),
            (json!({"contact_id": ""}), 404, "contact_not_found"),
        ] {
            let res = dsr(&app, &t, action, body.clone()).await;
            assert_eq!(
                (res.status, res.code()),
                (status, code),
                "{action} {body}: {}",
                res.text
            );
        }
        // Another workspace's contact is not found.
        dsr(&app, &other, action, json!({"contact_id": contact}))
            .await
            .expect_error(404, "contact_not_found");
    }
    app.post("/v1/dsr/export")
        .bearer(&read_only)
        .json(json!({"contact_id": contact}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    app.post("/v1/dsr/erase")
        .bearer(&write)
        .json(json!({"contact_id": contact}))
        .send()
        .await
        .expect_error(403, "insufficient_scope");
    assert_eq!(
        before,
        app.snapshot(&t.workspace_id).await,
        "refused requests write nothing"
    );
}

#[tokio::test]
async fn a_bundle_too_large_to_answer_waits_in_the_files_bucket_behind_a_link() {
    let app = TestApp::with(switchboard_tests::Options {
        dsr_inline_limit: 2_000,
        ..switchboard_tests::Options::default()
    })
    .await;
    let t = app.tenant().await;
    let person = Person::new();
    let seeded = seed(&app, &t, &person).await;
    let res = dsr(&app, &t, "export", json!({"contact_identifier": person.phone})).await;
    assert_eq!(res.status, 303, "{}", res.text);
    assert_eq!(res.body["object"], "dsr_export_file");
    let url = res.body["url"].as_str().unwrap();
    assert_eq!(res.header("location"), Some(url));
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");

    let file = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(res.body["size_bytes"], file.len());
    let bundle: Value = serde_json::from_slice(&file).unwrap();
    assert_eq!(bundle["object"], "dsr_export");
    assert_eq!(ids(&bundle["contacts"]), vec![seeded.contact.clone()]);
    assert!(ids(&bundle["calls"]).contains(&seeded.call));

    // Kept a day: the tag the bucket's lifecycle rules read.
    let key = url
        .split('?')
        .next()
        .unwrap()
        .split(&format!("/{}/", app.files_bucket))
        .nth(1)
        .unwrap();
    assert!(key.starts_with(&format!("exports/{}/", t.workspace_id)), "{key}");
    let tags = app
        .s3
        .get_object_tagging()
        .bucket(&app.files_bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, vec![("retention-days", "1")]);
}
