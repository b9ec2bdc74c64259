//! The offline voice: espeak-ng, which `scripts/setup` installs, really speaks the text, so a
//! developer hears a preview without any account. Not available on AWS Lambda.

use async_trait::async_trait;
use switchboard_core::error::ProviderError;
use switchboard_core::model::Voice;
use switchboard_core::ports::{Speech, TextToSpeech};
use tokio::io::AsyncWriteExt;

pub struct Espeak;

/// What test keys start with: the offline voice takes only those, as ElevenLabs takes only its
/// accounts' keys, so that a workspace can try `byok` locally.
pub const TEST_PREFIX: &str = "test_";

/// Whether the offline voice takes an ElevenLabs key (see [`TEST_PREFIX`]).
pub fn check_key(api_key: &str) -> Result<(), ProviderError> {
    if api_key.starts_with(TEST_PREFIX) {
        Ok(())
    } else {
        Err(ProviderError::Rejected(format!(
            "invalid_api_key (the offline voice takes only test keys, which start with `{TEST_PREFIX}`)"
        )))
    }
}

#[async_trait]
impl TextToSpeech for Espeak {
    async fn speak(&self, voice: &Voice, text: &str) -> Result<Speech, ProviderError> {
        // A file, not stdout: espeak-ng fixes the WAV header's sizes only in a file it can seek.
        let file = std::env::temp_dir().join(format!("switchboard-speech-{}.wav", rand::random::<u64>()));
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            ProviderError::Unavailable(anyhow::anyhow!("espeak-ng {what}: {e} (scripts/setup installs it)"))
        };
        // The text goes in on stdin, so nothing in it is read as an option.
        let mut child = tokio::process::Command::new("espeak-ng")
            .args(["-v", voice.offline_voice, "--stdin", "-w"])
            .arg(&file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| unavailable("does not start", &e))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| unavailable("does not read the text", &e))?;
        drop(stdin);
        let out = child.wait_with_output().await.map_err(|e| unavailable("failed", &e))?;
        let audio = tokio::fs::read(&file).await;
        let _ = tokio::fs::remove_file(&file).await;
        if !out.status.success() {
            return Err(unavailable("failed", &String::from_utf8_lossy(&out.stderr)));
        }
        Ok(Speech::wav(audio.map_err(|e| unavailable("wrote no audio", &e))?))
    }
}
