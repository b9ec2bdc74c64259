//! Keyed hashes of personal values, for the items that must go on recognising a person after
//! the person is erased: a number on the do-not-call list or a registry, or in a cool-down, is
//! stored under its pseudonym, so an erased person's entry keeps blocking the number while the
//! table no longer holds it. A pseudonym cannot be reversed without the key (unlike a plain
//! hash of a phone number, which a few billion guesses undo); the key lives in Secrets Manager.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key pseudonyms are made with. Never rotated: an entry stored under the old key would
/// stop being found, and a number on the do-not-call list would become callable again.
#[derive(Clone)]
pub struct PseudonymKey(Hmac<Sha256>);

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PseudonymKey")
    }
}

impl PseudonymKey {
    /// The key of a deployment's key material (the pseudonym key secret's value).
    pub fn derive(key_material: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key_material).expect("HMAC takes any key length");
        mac.update(b"switchboard pseudonyms v1");
        let key = mac.finalize().into_bytes();
        Self(<Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes any key length"))
    }

    /// `value`'s pseudonym in a workspace: the same value gets another one in another workspace.
    pub fn of(&self, workspace_id: &str, value: &str) -> String {
        let mut mac = self.0.clone();
        mac.update(workspace_id.as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        format!("ps_{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_stable_per_workspace_and_key() {
        let key = PseudonymKey::derive(b"0123456789abcdef0123456789abcdef");
        let a = key.of("ws_1", "+14155550100");
        assert_eq!(a, key.of("ws_1", "+14155550100"));
        assert_ne!(a, key.of("ws_2", "+14155550100"));
        assert_ne!(a, key.of("ws_1", "+14155550101"));
        assert_ne!(
            a,
            PseudonymKey::derive(b"another key material, 32 bytes!!").of("ws_1", "+14155550100")
        );
        assert!(!a.contains("4155550100"));
    }
}
