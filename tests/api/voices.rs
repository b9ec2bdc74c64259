//! Voices: spoken previews through the text-to-speech port, offline (espeak-ng, really
//! speaking) and through Amazon Polly's protocol (a local fake), checked by decoding the audio.

use std::io::Cursor;

use serde_json::json;
use switchboard_core::model::voice_by_id;
use switchboard_core::ports::TextToSpeech;
use switchboard_tests::fake::{Answer, FakeServer, Recorded};
use switchboard_tests::{Options, TestApp};

/// (sample rate, seconds) of a WAV file.
fn decode(wav: &[u8]) -> (u32, f64) {
    let reader = hound::WavReader::new(Cursor::new(wav)).expect("a WAV file");
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.bits_per_sample), (1, 16), "16-bit mono");
    (
        spec.sample_rate,
        f64::from(reader.duration()) / f64::from(spec.sample_rate),
    )
}

#[tokio::test]
async fn a_preview_speaks_the_text_in_the_voice() {
    let app = TestApp::spawn().await;
    let speak = |voice: &str, text: &str| {
        app.post("/v1/voices/preview")
            .json(json!({"voice": voice, "text": text}))
            .send()
    };
    let short = speak("amelia", "Hello.").await;
    short.expect(200);
    assert_eq!(short.header("content-type"), Some("audio/wav"));
    let long = speak(
        "amelia",
        "Hello, this is Amelia from Acme Dental. I am calling about your appointment tomorrow at ten.",
    )
    .await;
    long.expect(200);
    let ((rate, short_secs), (_, long_secs)) = (decode(&short.bytes), decode(&long.bytes));
    assert_eq!(rate, 22_050, "espeak-ng speaks at 22.05 kHz");
    assert!(
        short_secs > 0.2 && long_secs > short_secs * 3.0,
        "{short_secs} s, then {long_secs} s"
    );
    let hindi = speak("kavya", "नमस्ते, मैं आपकी कैसे मदद कर सकती हूँ?").await;
    hindi.expect(200);
    assert!(decode(&hindi.bytes).1 > 0.5);
}

#[tokio::test]
async fn every_listed_voice_has_a_sample_to_hear() {
    let app = TestApp::spawn().await;
    let listed = app.get("/v1/voices").send().await;
    listed.expect(200);
    for voice in listed.body["data"].as_array().unwrap() {
        let url = voice["sample_url"].as_str().unwrap();
        assert_eq!(url, format!("/v1/voices/{}/sample", voice["id"].as_str().unwrap()));
        let sample = app.get(url).send().await;
        sample.expect(200);
        assert_eq!(sample.header("content-type"), Some("audio/wav"));
        assert!(sample.header("cache-control").unwrap().contains("max-age"));
        assert!(decode(&sample.bytes).1 > 1.0, "{url} says something");
    }
    app.get("/v1/voices/jennifer/sample")
        .send()
        .await
        .expect_error(404, "voice_not_found");
}

#[tokio::test]
async fn previews_refuse_unknown_voices_and_long_texts_and_are_limited_per_client() {
    let app = TestApp::with(Options {
        public_rate_limit: 3,
        ..Options::default()
    })
    .await;
    let speak = |body: serde_json::Value| app.post("/v1/voices/preview").json(body).send();
    let unknown = speak(json!({"voice": "jennifer", "text": "Hi"})).await;
    unknown.expect_error(400, "invalid_value");
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("amelia"));
    speak(json!({"voice": "amelia", "text": "x".repeat(301)}))
        .await
        .expect_error(422, "validation_failed");
    let mut limited = None;
    for _ in 0..5 {
        let res = speak(json!({"voice": "leo", "text": "Hi"})).await;
        if res.status == 429 {
            limited = Some(res);
            break;
        }
        res.expect(200);
    }
    let limited = limited.expect("the client is limited");
    assert!(limited.header("retry-after").is_some());
}

#[tokio::test]
async fn polly_is_asked_for_the_voices_neural_pcm_and_answers_wav() {
    // Polly answers 16-bit PCM: here, silence whose length grows with the text.
    let fake = FakeServer::start(|request, _| {
        let text = request.json()["Text"].as_str().unwrap_or_default().len();
        (200, "audio/pcm", "\0".repeat(text * 640))
    })
    .await;
    let sdk = switchboard_runtime::sdk_config().await;
    let polly = |url: &str| switchboard_speech::polly::Polly::new(&sdk, Some(url));
    let voice = voice_by_id("kavya").unwrap();
    let speech = polly(&fake.url).speak(voice, "नमस्ते").await.unwrap();
    let (rate, seconds) = decode(&speech.audio);
    assert_eq!(rate, 16_000);
    assert!((seconds - "नमस्ते".len() as f64 * 0.02).abs() < 1e-6, "{seconds}");
    let asked = &fake.requests()[0];
    assert_eq!((asked.method.as_str(), asked.path.as_str()), ("POST", "/v1/speech"));
    let body = asked.json();
    assert_eq!(
        (
            &body["VoiceId"],
            &body["Engine"],
            &body["OutputFormat"],
            &body["SampleRate"],
            &body["LanguageCode"]
        ),
        (
            &json!("Kajal"),
            &json!("neural"),
            &json!("pcm"),
            &json!("16000"),
            &json!("hi-IN")
        )
    );
    assert!(
        asked.header("authorization").unwrap().starts_with("AWS4-HMAC-SHA256"),
        "signed"
    );

    // Polly's refusals are the provider's refusals.
    let refusing = FakeServer::start(|_, _| {
        (
            400,
            "application/json",
            r#"{"__type":"TextLengthExceededException","message":"too long"}"#.into(),
        )
    })
    .await;
    let err = polly(&refusing.url).speak(voice, "hi").await.unwrap_err();
    assert!(
        matches!(err, switchboard_core::error::ProviderError::Rejected(_)),
        "{err}"
    );
    assert!(
        err.to_string().contains("TextLengthExceededException: too long"),
        "{err}"
    );
    assert_eq!(refusing.requests().len(), 1, "a refusal is not sent again");

    // Throttled, it is asked again after a pause, and a third time at the most.
    fn throttled(_: &Recorded, _: usize) -> Answer {
        (
            400,
            "application/json",
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into(),
        )
    }
    let busy_once = FakeServer::start(move |request, n| match n {
        0 => throttled(request, n),
        _ => (200, "audio/pcm", "\0".repeat(640)),
    })
    .await;
    let speech = polly(&busy_once.url).speak(voice, "hi").await.unwrap();
    assert_eq!(decode(&speech.audio), (16_000, 0.02));
    assert_eq!(busy_once.requests().len(), 2);
    let always_busy = FakeServer::start(throttled).await;
    let err = polly(&always_busy.url).speak(voice, "hi").await.unwrap_err();
    assert!(
        matches!(err, switchboard_core::error::ProviderError::Unavailable(_)),
        "{err}"
    );
    assert_eq!(always_busy.requests().len(), 3);
}

#[tokio::test]
async fn elevenlabs_is_asked_for_the_accounts_voice_as_pcm_and_answers_wav() {
    use switchboard_speech::elevenlabs::ElevenLabs;
    let fake = FakeServer::start(|request, _| {
        if request.header("xi-api-key") != Some("xi-test-key") {
            return (
                401,
                "application/json",
                r#"{"detail":{"status":"invalid_api_key"}}"#.into(),
            );
        }
        let text = request.json()["text"].as_str().unwrap_or_default().len();
        (200, "audio/pcm", "\0".repeat(text * 320))
    })
    .await;
    let voices = std::collections::HashMap::from([("amelia".to_owned(), "el-voice-1".to_owned())]);
    let amelia = voice_by_id("amelia").unwrap();
    let speech = ElevenLabs::new(&fake.url, "xi-test-key", voices.clone())
        .speak(amelia, "Hello there")
        .await
        .unwrap();
    let (rate, seconds) = decode(&speech.audio);
    assert_eq!(rate, 16_000);
    assert!((seconds - 11.0 * 0.01).abs() < 1e-6, "{seconds}");
    let asked = &fake.requests()[0];
    assert_eq!(asked.path, "/v1/text-to-speech/el-voice-1?output_format=pcm_16000");
    assert_eq!(asked.json()["language_code"], "en");

    let refused = ElevenLabs::new(&fake.url, "wrong", voices.clone())
        .speak(amelia, "Hi")
        .await;
    assert!(matches!(
        refused,
        Err(switchboard_core::error::ProviderError::Unauthorized(_))
    ));
    let unchosen = ElevenLabs::new(&fake.url, "xi-test-key", voices)
        .speak(voice_by_id("leo").unwrap(), "Hi")
        .await;
    assert!(matches!(
        unchosen,
        Err(switchboard_core::error::ProviderError::Rejected(_))
    ));
    assert_eq!(
        fake.requests().len(),
        2,
        "a persona without a chosen voice asks nothing"
    );
}
