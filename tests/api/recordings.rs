//! Call recordings through the simulator: the notice a recorded call starts with, the audio
//! kept in the recordings bucket for the plan's retention, the hour-long link only the
//! workspace's reads hand out, a callee who declines, and a data-subject request's export and
//! erasure of it. (Twilio's recordings are in `twilio.rs`.)

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use switchboard_core::error::ProviderError;
use switchboard_core::model::{AvailableNumber, Call, PhoneNumber, Voice};
use switchboard_core::ports::{
    CallJob, CallQueue, NumberSearch, OutboundCall, ProviderCall, Repository, Speech, Telephony,
};
use switchboard_domain::calls;
use switchboard_telephony::simulator::Simulator;
use switchboard_tests::{Tenant, TestApp, phone_ending};

const NOTICE: &str = "This call is recorded; if you'd rather it wasn't, just say so.";

/// A line whose agent records its calls: `(agent, number_id)`.
async fn recording_line(app: &TestApp, t: &Tenant) -> (String, String) {
    let (agent, number_id, _) = app.phone_line(t).await;
    app.set_agent(t, &agent, json!({"record_calls": true})).await;
    (agent, number_id)
}

/// Places a call to `to` and runs it to its end and post-call work (the recording is kept in
/// the job that stores the analysis); the call as read then.
async fn call(app: &TestApp, t: &Tenant, agent: &str, number_id: &str, to: &str) -> Value {
    let placed = app
        .post("/v1/calls")
        .bearer(&t.key)
        .json(json!({"agent_id": agent, "phone_number_id": number_id, "to": to}))
        .send()
        .await;
    placed.expect(201);
    app.run_call_jobs_until_final(t, placed.id()).await;
    let read = app
        .get(&format!("/v1/calls/{}", placed.id()))
        .bearer(&t.key)
        .send()
        .await;
    read.expect(200);
    read.body.clone()
}

/// The keys the workspace holds in the recordings bucket.
async fn objects(app: &TestApp, t: &Tenant) -> Vec<String> {
    let listed = app
        .s3
        .list_objects_v2()
        .bucket(&app.files_bucket)
        .prefix(format!("recordings/{}/", t.workspace_id))
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// Sample rate and seconds of a WAV file.
fn decode(wav: &[u8]) -> (u32, f64) {
    let reader = hound::WavReader::new(Cursor::new(wav)).expect("a WAV file");
    let spec = reader.spec();
    (
        spec.sample_rate,
        f64::from(reader.duration()) / f64::from(spec.sample_rate),
    )
}

async fn download(url: &str) -> Vec<u8> {
    let res = reqwest::get(url).await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_recorded_call_starts_with_the_notice_and_is_kept_as_audio_behind_an_hour_long_link() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id) = recording_line(&app, &t).await;
    let done = call(&app, &t, &agent, &number_id, &phone_ending("0100")).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["transcript"][0]["content"],
        format!("{NOTICE} Hi, this is Sarah from Acme Dental.")
    );

    let recording = &done["recording"];
    assert_eq!(recording["content_type"], "audio/wav", "{done}");
    let url = done["recording_url"].as_str().expect("a link to the recording");
    assert!(url.contains("X-Amz-Expires=3600"), "{url}");
    let audio = download(url).await;
    assert_eq!(recording["size_bytes"], audio.len());
    let (rate, seconds) = decode(&audio);
    assert_eq!(rate, 22_050, "espeak-ng's rate: every line was spoken");
    // Five lines of a few words each, with pauses between them.
    assert!(seconds > 8.0, "{seconds} s");
    assert_eq!(recording["duration_seconds"], seconds.ceil() as u32);

    // Kept for the Starter plan's 30 days: the tag the bucket's lifecycle rules read.
    let key = format!("recordings/{}/{}", t.workspace_id, done["id"].as_str().unwrap());
    assert_eq!(objects(&app, &t).await, vec![key.clone()]);
    let tags = app
        .s3
        .get_object_tagging()
        .bucket(&app.files_bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    let tags: Vec<(&str, &str)> = tags.tag_set().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(tags, vec![("retention-days", "30")]);
    let created = chrono::DateTime::parse_from_rfc3339(recording["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(recording["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 30);

    // Lists hand out links too; once retention has deleted the audio, none.
    let listed = app.get("/v1/calls").bearer(&t.key).send().await;
    assert!(listed.body["data"][0]["recording_url"].is_string(), "{}", listed.text);
    app.clock.advance(chrono::Duration::days(31));
    let later = app
        .get(&format!("/v1/calls/{}", done["id"].as_str().unwrap()))
        .bearer(&t.key)
        .send()
        .await;
    assert!(later.body["recording_url"].is_null(), "{}", later.text);
}

#[tokio::test]
async fn an_agent_that_does_not_record_says_no_notice_and_keeps_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id, _) = app.phone_line(&t).await;
    let done = call(&app, &t, &agent, &number_id, &phone_ending("0100")).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["transcript"][0]["content"], "Hi, this is Sarah from Acme Dental.");
    assert!(done["recording"].is_null() && done["recording_url"].is_null(), "{done}");
    assert!(objects(&app, &t).await.is_empty());
}

#[tokio::test]
async fn a_callee_who_declines_the_recording_is_not_recorded() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id) = recording_line(&app, &t).await;
    let done = call(&app, &t, &agent, &number_id, &phone_ending("0007")).await;
    let said: Vec<&str> = done["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(said[1].contains("don't record"), "{said:?}");
    assert!(done["recording"].is_null() && done["recording_url"].is_null(), "{done}");
    assert!(objects(&app, &t).await.is_empty());
}

#[tokio::test]
async fn a_hindi_agent_gives_the_notice_in_hindi() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id) = recording_line(&app, &t).await;
    app.set_agent(
        &t,
        &agent,
        json!({"voice": "kavya", "language": "hi-IN", "first_message": "नमस्ते!"}),
    )
    .await;
    let done = call(&app, &t, &agent, &number_id, &phone_ending("0005")).await;
    assert_eq!(
        done["transcript"][0]["content"],
        "यह कॉल रिकॉर्ड की जा रही है; अगर आप नहीं चाहते, तो बता दीजिए। नमस्ते!"
    );
    assert!(done["recording"]["duration_seconds"].as_u64().unwrap() > 0, "{done}");
}

#[tokio::test]
async fn record_calls_must_be_a_boolean_and_nothing_is_written_otherwise() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, _, _) = app.phone_line(&t).await;
    let before = app.snapshot(&t.workspace_id).await;
    for bad in [
        json!({"record_calls": "yes"}),
        json!({"record_calls": null}),
        json!({"record_calls": 1}),
    ] {
        let res = app
            .patch(&format!("/v1/agents/{agent}"))
            .bearer(&t.key)
            .json(bad.clone())
            .send()
            .await;
        assert_eq!(res.status, 400, "{bad}: {}", res.text);
    }
    let res = app
        .post("/v1/agents")
        .bearer(&t.key)
        .json(json!({"name": "R", "system_prompt": "p", "record_calls": "always"}))
        .send()
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(app.snapshot(&t.workspace_id).await, before);
}

#[tokio::test]
async fn a_data_subject_export_links_the_recording_and_erasure_deletes_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id) = recording_line(&app, &t).await;
    let phone = phone_ending("0100");
    app.create(&t, "/v1/contacts", json!({"phone": phone, "name": "Rita Recorded"}))
        .await;
    let done = call(&app, &t, &agent, &number_id, &phone).await;
    let id = done["id"].as_str().unwrap();
    assert_eq!(objects(&app, &t).await.len(), 1);

    let subject = json!({"contact_identifier": phone});
    let export = app
        .post("/v1/dsr/export")
        .bearer(&t.key)
        .json(subject.clone())
        .send()
        .await;
    export.expect(200);
    let exported = &export.body["calls"][0];
    assert_eq!(exported["id"], id, "{}", export.text);
    let audio = download(exported["recording_url"].as_str().expect("the recording's link")).await;
    assert!(decode(&audio).1 > 1.0);

    let erased = app.post("/v1/dsr/erase").bearer(&t.key).json(subject).send().await;
    erased.expect(200);
    assert_eq!(erased.body["recordings_deleted"], 1, "{}", erased.text);
    assert!(objects(&app, &t).await.is_empty(), "the audio is gone");
    let after = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert!(
        after.body["recording"].is_null() && after.body["recording_url"].is_null(),
        "{}",
        after.text
    );
}

/// The simulator, with the call erased (its transcript and recording gone, as a data-subject
/// erasure leaves it) while its recording is being made.
struct ErasedWhileRecording {
    inner: Simulator,
    calls: Arc<dyn Repository<Call>>,
    workspace_id: String,
}

#[async_trait]
impl Telephony for ErasedWhileRecording {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }
    async fn attach_number(&self, phone: &str) -> Result<Option<String>, ProviderError> {
        self.inner.attach_number(phone).await
    }
    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError> {
        self.inner.search_numbers(search).await
    }
    async fn provision_number(&self, phone: &str) -> Result<Option<String>, ProviderError> {
        self.inner.provision_number(phone).await
    }
    async fn release_number(&self, number: &PhoneNumber) -> Result<(), ProviderError> {
        self.inner.release_number(number).await
    }
    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        self.inner.place_call(call).await
    }
    async fn hang_up(&self, id: &str) -> Result<(), ProviderError> {
        self.inner.hang_up(id).await
    }
    async fn fetch_call(&self, id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        self.inner.fetch_call(id).await
    }
    async fn recording(&self, call: &Call, voice: &Voice) -> Result<Option<Speech>, ProviderError> {
        let audio = self.inner.recording(call, voice).await;
        let ws = &self.workspace_id;
        let current = self.calls.get(ws, &call.id).await.unwrap().unwrap();
        let mut erased = current.value.clone();
        erased.transcript.clear();
        self.calls.update(ws, &current, &erased, &[]).await.unwrap();
        audio
    }
    async fn discard_recording(&self, call: &Call) -> Result<(), ProviderError> {
        self.inner.discard_recording(call).await
    }
}

#[tokio::test]
async fn a_call_erased_while_its_recording_is_made_keeps_none() {
    let app = TestApp::spawn().await;
    let t = app.tenant().await;
    let (agent, number_id) = recording_line(&app, &t).await;
    app.set_agent(&t, &agent, json!({"record_calls": false})).await;
    // The call, as it ended, without a recording; then recorded by a recorder that races erasure.
    let done = call(&app, &t, &agent, &number_id, &phone_ending("0100")).await;
    let id = done["id"].as_str().unwrap();
    app.set_agent(&t, &agent, json!({"record_calls": true})).await;
    let racing = ErasedWhileRecording {
        inner: Simulator::new(Arc::new(NoJobs)).recording_with(Arc::new(switchboard_speech::offline::Espeak)),
        calls: Arc::new(app.store.clone()),
        workspace_id: t.workspace_id.clone(),
    };
    let recorder = calls::Recorder {
        telephony: &racing,
        recordings: app.recordings.as_ref(),
        accounts: &app.store,
    };
    calls::keep_recording(recorder, &app.store, &app.store, &t.workspace_id, id, app.clock.now())
        .await
        .unwrap();
    let after = app.get(&format!("/v1/calls/{id}")).bearer(&t.key).send().await;
    assert!(after.body["recording"].is_null(), "{}", after.text);
    assert!(
        objects(&app, &t).await.is_empty(),
        "the audio put before the erasure is deleted"
    );
}

/// A call queue nothing is sent to.
struct NoJobs;

#[async_trait]
impl CallQueue for NoJobs {
    async fn enqueue(&self, _job: &CallJob, _delay: std::time::Duration) -> anyhow::Result<()> {
        unreachable!("recording places no call")
    }
}
