//! Twilio as the telephony provider: its REST API (calls, numbers), the signatures of its
//! webhooks, and the TwiML that connects a call to its agent.
//!
//! A call's conversation runs over Twilio ConversationRelay: the TwiML of an answered call
//! `<Connect>`s it to our relay WebSocket (the `call-relay` function behind an API Gateway
//! WebSocket API), Twilio does speech-to-text and text-to-speech, and the relay answers each
//! thing the caller says through the conversation engine.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

use switchboard_core::error::ProviderError;
use switchboard_core::model::{
    AvailableNumber, AvailableNumberObject, CURRENCY, Call, CallStatus, NUMBER_MONTHLY_FEE_MINOR, NumberSource,
    PhoneNumber, Voice,
};
use switchboard_core::ports::{LiveVoice, NumberSearch, OutboundCall, ProviderCall, Speech, Telephony};

pub mod relay;

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// Where Twilio reaches us.
#[derive(Debug, Clone)]
pub struct Callbacks {
    /// The API's public base URL (`https://api.example.com`).
    pub public_base_url: String,
    /// The relay WebSocket's URL (`wss://...`).
    pub relay_url: String,
    /// The workspace whose own account this is, named in the URLs its numbers call so that
    /// their webhooks are checked with its auth token; `None` for the platform's account.
    pub workspace_id: Option<String>,
}

pub const VOICE_PATH: &str = "/v1/telephony/twilio/voice";
pub const STATUS_PATH: &str = "/v1/telephony/twilio/status";

impl Callbacks {
    /// The URL a number of the account calls.
    fn number_url(&self, path: &str) -> String {
        match &self.workspace_id {
            Some(ws) => self.url(path, &[("workspace_id", ws)]),
            None => self.url(path, &[]),
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!("{}{path}", self.public_base_url.trim_end_matches('/'));
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(query)
                    .finish(),
            );
        }
        url
    }
}

/// What checks and answers Twilio's webhooks.
#[derive(Debug, Clone)]
pub struct Webhooks {
    pub auth_token: String,
    pub callbacks: Callbacks,
}

impl Webhooks {
    /// Whether a webhook request to `path?query` carries Twilio's signature of it.
    pub fn verify(&self, path: &str, raw_query: &str, params: &[(String, String)], header: Option<&str>) -> bool {
        self.verify_as(&self.auth_token, path, raw_query, params, header)
    }

    /// [`Self::verify`] for a request of another account, signed with `auth_token`.
    pub fn verify_as(
        &self,
        auth_token: &str,
        path: &str,
        raw_query: &str,
        params: &[(String, String)],
        header: Option<&str>,
    ) -> bool {
        let mut url = format!("{}{path}", self.callbacks.public_base_url.trim_end_matches('/'));
        if !raw_query.is_empty() {
            url.push('?');
            url.push_str(raw_query);
        }
        verify(auth_token, &url, params, header)
    }
}

/// The relay URL a workspace's own account connects its calls to: naming the workspace, whose
/// auth token signs the connection.
pub fn workspace_relay_url(relay_url: &str, workspace_id: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("workspace_id", workspace_id)
        .finish();
    format!("{relay_url}?{query}")
}

/// Twilio's REST API.
pub struct Twilio {
    http: reqwest::Client,
    api_base: String,
    account_sid: String,
    auth_token: String,
    callbacks: Callbacks,
}

impl Twilio {
    pub fn new(api_base: &str, account_sid: &str, auth_token: &str, callbacks: Callbacks) -> Self {
        Self {
            http: switchboard_https::client(Duration::from_secs(10))
                .build()
                .expect("an HTTP client builds"),
            api_base: api_base.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            callbacks,
        }
    }

    fn url(&self, resource: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}/{resource}", self.api_base, self.account_sid)
    }

    /// Sends a request and returns its JSON; Twilio's 4xx are refusals, the rest unavailability.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
        let response = request
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .map_err(|e| ProviderError::Unavailable(e.into()))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let why = format!(
            "{} (Twilio error {})",
            body["message"].as_str().unwrap_or("no message"),
            body["code"].as_i64().unwrap_or_default()
        );
        if status == reqwest::StatusCode::UNAUTHORIZED {
            Err(ProviderError::Unauthorized(why))
        } else if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(ProviderError::Rejected(why))
        } else {
            Err(ProviderError::Unavailable(anyhow::anyhow!(
                "Twilio answered {status}: {why}"
            )))
        }
    }

    /// Whether the credential opens an active account (`GET /2010-04-01/Accounts/{sid}.json`).
    pub async fn check_account(&self) -> Result<(), ProviderError> {
        let url = format!("{}/2010-04-01/Accounts/{}.json", self.api_base, self.account_sid);
        let account = self.send(self.http.get(url)).await?;
        match account["status"].as_str() {
            Some("active") | None => Ok(()),
            Some(status) => Err(ProviderError::Rejected(format!("the Twilio account is {status}"))),
        }
    }

    /// The recordings Twilio holds of a call: `(sid, status)` of each.
    async fn recordings_of(&self, call: &Call) -> Result<Vec<(String, String)>, ProviderError> {
        let Some(call_sid) = &call.provider_call_id else {
            return Ok(Vec::new());
        };
        let listed = self
            .send(self.http.get(self.url(&format!("Calls/{call_sid}/Recordings.json"))))
            .await?;
        Ok(listed["recordings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r["sid"].as_str()?.to_owned(), r["status"].as_str()?.to_owned())))
            .collect())
    }
}

#[async_trait]
impl Telephony for Twilio {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    /// Points the account's number at our voice and status webhooks.
    async fn attach_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        let found = self
            .send(self.http.get(format!(
                    "{}?{}",
                    self.url("IncomingPhoneNumbers.json"),
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("PhoneNumber", phone_e164)
                        .finish()
                )))
            .await?;
        let Some(sid) = found["incoming_phone_numbers"][0]["sid"].as_str() else {
            return Err(ProviderError::Rejected(format!(
                "{phone_e164} is not a number of this Twilio account"
            )));
        };
        let form = [
            ("VoiceUrl", self.callbacks.number_url(VOICE_PATH)),
            ("VoiceMethod", "POST".into()),
            ("StatusCallback", self.callbacks.number_url(STATUS_PATH)),
            ("StatusCallbackMethod", "POST".into()),
        ];
        self.send(
            self.http
                .post(self.url(&format!("IncomingPhoneNumbers/{sid}.json")))
                .form(&form),
        )
        .await?;
        Ok(Some(sid.to_owned()))
    }

    async fn search_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>, ProviderError> {
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(area) = &search.area_code {
                query.append_pair("AreaCode", area);
            }
            if let Some(digits) = &search.contains {
                query.append_pair("Contains", digits);
            }
            query.append_pair("PageSize", &search.limit.to_string());
            query.finish()
        };
        let found = self
            .send(self.http.get(format!(
                "{}?{query}",
                self.url(&format!("AvailablePhoneNumbers/{}/Local.json", search.country)),
            )))
            .await?;
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(found["available_phone_numbers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|offer| {
                Some(AvailableNumber {
                    object: AvailableNumberObject,
                    phone_number: text(&offer["phone_number"])?,
                    country: text(&offer["iso_country"]).unwrap_or_else(|| search.country.clone()),
                    locality: text(&offer["locality"]),
                    region: text(&offer["region"]),
                    monthly_fee_minor: NUMBER_MONTHLY_FEE_MINOR,
                    currency: CURRENCY.into(),
                })
            })
            .take(search.limit as usize)
            .collect())
    }

    /// Buys the number with its calls and status reports pointed here.
    async fn provision_number(&self, phone_e164: &str) -> Result<Option<String>, ProviderError> {
        let form = [
            ("PhoneNumber", phone_e164.to_owned()),
            ("VoiceUrl", self.callbacks.number_url(VOICE_PATH)),
            ("VoiceMethod", "POST".into()),
            ("StatusCallback", self.callbacks.number_url(STATUS_PATH)),
            ("StatusCallbackMethod", "POST".into()),
        ];
        let bought = self
            .send(self.http.post(self.url("IncomingPhoneNumbers.json")).form(&form))
            .await?;
        bought["sid"]
            .as_str()
            .map(|sid| Some(sid.to_owned()))
            .ok_or_else(|| ProviderError::Unavailable(anyhow::anyhow!("Twilio bought a number without a sid")))
    }

    /// Releases a bought number (Twilio stops billing it); unwires an imported one.
    async fn release_number(&self, number: &PhoneNumber) -> Result<(), ProviderError> {
        let Some(sid) = &number.provider_id else {
            return Ok(());
        };
        let resource = self.url(&format!("IncomingPhoneNumbers/{sid}.json"));
        let request = match number.source {
            NumberSource::Provisioned => self.http.delete(resource),
            NumberSource::Imported => self
                .http
                .post(resource)
                .form(&[("VoiceUrl", ""), ("StatusCallback", "")]),
        };
        match self.send(request).await {
            // Gone from the account already: released.
            Err(ProviderError::Rejected(why)) if why.contains("Twilio error 20404") => Ok(()),
            answered => answered.map(|_| ()),
        }
    }

    async fn place_call(&self, call: &OutboundCall) -> Result<String, ProviderError> {
        let ours = [
            ("workspace_id", call.workspace_id.as_str()),
            ("call_id", call.call_id.as_str()),
        ];
        let mut form = vec![
            ("To", call.to.clone()),
            ("From", call.from.clone()),
            ("Url", self.callbacks.url(VOICE_PATH, &ours)),
            ("Method", "POST".into()),
            ("StatusCallback", self.callbacks.url(STATUS_PATH, &ours)),
            ("StatusCallbackMethod", "POST".into()),
            ("TimeLimit", call.max_duration.to_string()),
            // Answering machines end the call as `voicemail` instead of talking to them.
            ("MachineDetection", "Enable".into()),
        ];
        for event in ["initiated", "ringing", "answered", "completed"] {
            form.push(("StatusCallbackEvent", event.into()));
        }
        let created = self.send(self.http.post(self.url("Calls.json")).form(&form)).await?;
        created["sid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ProviderError::Unavailable(anyhow::anyhow!("Twilio created a call without a sid")))
    }

    async fn hang_up(&self, provider_call_id: &str) -> Result<(), ProviderError> {
        self.send(
            self.http
                .post(self.url(&format!("Calls/{provider_call_id}.json")))
                .form(&[("Status", "completed")]),
        )
        .await
        .map(|_| ())
    }

    async fn fetch_call(&self, provider_call_id: &str) -> Result<Option<ProviderCall>, ProviderError> {
        let call = self
            .send(self.http.get(self.url(&format!("Calls/{provider_call_id}.json"))))
            .await?;
        let status = call["status"]
            .as_str()
            .and_then(|s| status_of(s, call["answered_by"].as_str()))
            .ok_or_else(|| {
                ProviderError::Unavailable(anyhow::anyhow!("Twilio reported a call without a known status: {call}"))
            })?;
        Ok(Some(ProviderCall {
            status,
            // Twilio writes numbers in strings here.
            duration_seconds: call["duration"].as_str().and_then(|d| d.parse().ok()),
        }))
    }

    /// The call's recording as MP3 (a tenth of WAV's size: a two-hour call stays small in the
    /// worker's memory), once Twilio has finished it (started by the TwiML's `<Start><Recording>`).
    async fn recording(&self, call: &Call, _voice: &Voice) -> Result<Option<Speech>, ProviderError> {
        let recordings = self.recordings_of(call).await?;
        let Some((sid, status)) = recordings.first() else {
            return Ok(None);
        };
        match status.as_str() {
            "completed" => {}
            "absent" | "failed" | "deleted" => return Ok(None),
            _ => {
                return Err(ProviderError::Unavailable(anyhow::anyhow!(
                    "Twilio's recording {sid} is {status}"
                )));
            }
        }
        let response = self
            .http
            .get(self.url(&format!("Recordings/{sid}.mp3")))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| ProviderError::Unavailable(e.into()))?;
        let audio = response
            .bytes()
            .await
            .map_err(|e| ProviderError::Unavailable(e.into()))?;
        Ok(Some(Speech {
            audio: audio.to_vec(),
            content_type: "audio/mpeg",
        }))
    }

    /// Deletes Twilio's copies: ours is the one the workspace's retention and erasure govern.
    async fn discard_recording(&self, call: &Call) -> Result<(), ProviderError> {
        for (sid, _) in self.recordings_of(call).await? {
            let deleted = self
                .http
                .delete(self.url(&format!("Recordings/{sid}.json")))
                .basic_auth(&self.account_sid, Some(&self.auth_token))
                .send()
                .await
                .map_err(|e| ProviderError::Unavailable(e.into()))?;
            let status = deleted.status();
            if !status.is_success() && status != reqwest::StatusCode::NOT_FOUND {
                return Err(ProviderError::Unavailable(anyhow::anyhow!(
                    "Twilio answered {status} deleting recording {sid}"
                )));
            }
        }
        Ok(())
    }
}

/// `X-Twilio-Signature` of a request to `url` with form `params`: base64 HMAC-SHA1, keyed
/// with the auth token, of the URL followed by each parameter's name and value, sorted by name.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is Twilio's signature of the request (compared in constant time).
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    let Some(header) = header else {
        return false;
    };
    let expected = signature(auth_token, url, params);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

/// Our status for a Twilio `CallStatus` (and `AnsweredBy`, with machine detection on).
pub fn status_of(call_status: &str, answered_by: Option<&str>) -> Option<CallStatus> {
    let machine = answered_by.is_some_and(|a| a.starts_with("machine") || a == "fax");
    Some(match call_status {
        "queued" | "initiated" => CallStatus::Queued,
        "ringing" => CallStatus::Ringing,
        "in-progress" | "answered" if machine => CallStatus::Voicemail,
        "in-progress" | "answered" => CallStatus::InProgress,
        "completed" if machine => CallStatus::Voicemail,
        "completed" => CallStatus::Completed,
        "busy" => CallStatus::Busy,
        "no-answer" => CallStatus::NoAnswer,
        "failed" => CallStatus::Failed,
        "canceled" => CallStatus::Canceled,
        _ => return None,
    })
}

fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// TwiML connecting the call to the relay: Twilio starts recording when asked to `record`,
/// says `greeting`, then relays what the caller says (in `language`) with `parameters` in the
/// relay's setup message, speaking the agent's lines in `voice`.
pub fn connect_twiml(
    relay_url: &str,
    greeting: &str,
    language: &str,
    voice: &LiveVoice,
    record: bool,
    parameters: &[(&str, &str)],
) -> String {
    let start = if record { "<Start><Recording/></Start>" } else { "" };
    // ConversationRelay synthesises speech itself, with the provider and voice named here.
    let (tts_provider, voice) = match voice {
        LiveVoice::AmazonPolly(id) => ("Amazon", format!("{id}-Neural")),
        LiveVoice::ElevenLabs(id) => ("ElevenLabs", id.clone()),
    };
    let mut twiml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response>{start}<Connect><ConversationRelay url="{}" language="{}" ttsProvider="{tts_provider}" voice="{}""#,
        escape(relay_url),
        escape(language),
        escape(&voice)
    );
    if !greeting.is_empty() {
        twiml.push_str(&format!(r#" welcomeGreeting="{}""#, escape(greeting)));
    }
    twiml.push('>');
    for (name, value) in parameters {
        twiml.push_str(&format!(
            r#"<Parameter name="{}" value="{}"/>"#,
            escape(name),
            escape(value)
        ));
    }
    twiml.push_str("</ConversationRelay></Connect></Response>");
    twiml
}

/// TwiML that says `text` (when there is any) and hangs up.
pub fn hangup_twiml(text: &str) -> String {
    let say = if text.is_empty() {
        String::new()
    } else {
        format!("<Say>{}</Say>", escape(text))
    };
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><Response>{say}<Hangup/></Response>"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// What we sign verifies, in any order of its parameters; a different token, URL or
        /// value does not; no header, however malformed, makes checking panic.
        #[test]
        fn signatures_verify_exactly_what_was_signed(
            token in "[a-zA-Z0-9]{1,40}",
            url in "https://[a-z.]{1,20}/v1/[a-z/?=&_]{0,30}",
            params in proptest::collection::vec(("[A-Za-z]{1,12}", "\\PC{0,20}"), 0..8),
            header in "\\PC{0,60}",
        ) {
            let params: Vec<(String, String)> = params;
            let signed = signature(&token, &url, &params);
            proptest::prop_assert!(verify(&token, &url, &params, Some(&signed)));
            let mut reversed = params.clone();
            reversed.reverse();
            proptest::prop_assert!(verify(&token, &url, &reversed, Some(&signed)));
            let (other_token, other_url) = (token.clone() + "x", url.clone() + "x");
            proptest::prop_assert!(!verify(&other_token, &url, &params, Some(&signed)));
            proptest::prop_assert!(!verify(&token, &other_url, &params, Some(&signed)));
            let mut changed = params.clone();
            changed.push(("Extra".into(), "1".into()));
            proptest::prop_assert!(!verify(&token, &url, &changed, Some(&signed)));
            proptest::prop_assert!(!verify(&token, &url, &params, None));
            let _ = verify(&token, &url, &params, Some(&header));
        }
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The example of Twilio's webhook security documentation.
    #[test]
    fn signatures_match_twilios_published_example() {
        let params = owned(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(verify("12345", url, &params, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")));
        let mut reordered = params.clone();
        reordered.reverse();
        assert!(
            verify("12345", url, &reordered, Some("0/KCTR6DLpKmkAf8muzZqo1nDgQ=")),
            "order of the form does not matter"
        );
    }

    #[test]
    fn anything_changed_fails_verification() {
        let params = owned(&[("CallSid", "CA1"), ("CallStatus", "completed")]);
        let url = "https://api.example.com/v1/telephony/twilio/status";
        let good = signature("token", url, &params);
        assert!(verify("token", url, &params, Some(&good)));
        assert!(!verify("other", url, &params, Some(&good)), "another account's token");
        assert!(
            !verify("token", &format!("{url}?x=1"), &params, Some(&good)),
            "another URL"
        );
        let tampered = owned(&[("CallSid", "CA1"), ("CallStatus", "busy")]);
        assert!(!verify("token", url, &tampered, Some(&good)), "another parameter value");
        assert!(!verify("token", url, &params, None), "no header");
        assert!(!verify("token", url, &params, Some("")), "an empty header");
    }

    #[test]
    fn twilio_statuses_map_to_ours() {
        assert_eq!(status_of("initiated", None), Some(CallStatus::Queued));
        assert_eq!(status_of("in-progress", Some("human")), Some(CallStatus::InProgress));
        assert_eq!(
            status_of("completed", Some("machine_end_beep")),
            Some(CallStatus::Voicemail)
        );
        assert_eq!(status_of("no-answer", None), Some(CallStatus::NoAnswer));
        assert_eq!(status_of("teleported", None), None);
    }

    #[test]
    fn twiml_escapes_what_it_carries() {
        let twiml = connect_twiml(
            "wss://relay.example.com/",
            "Hi & \"welcome\"",
            "en-US",
            &LiveVoice::ElevenLabs("v<1>".into()),
            false,
            &[("call_id", "call_<1>")],
        );
        assert!(
            twiml.contains(r#"ttsProvider="ElevenLabs" voice="v&lt;1&gt;""#),
            "{twiml}"
        );
        assert!(
            twiml.contains(r#"welcomeGreeting="Hi &amp; &quot;welcome&quot;""#),
            "{twiml}"
        );
        assert!(
            twiml.contains(r#"<Parameter name="call_id" value="call_&lt;1&gt;"/>"#),
            "{twiml}"
        );
        assert!(hangup_twiml("a < b").contains("<Say>a &lt; b</Say><Hangup/>"));
    }
}
