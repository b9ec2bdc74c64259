//! Endpoints' signing secrets (`whsec_...`): shown once, stored sealed with AES-256-GCM under a
//! key derived from a Secrets Manager secret, opened only to sign.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const PREFIX: &str = "whsec_";
const NONCE_LEN: usize = 12;

/// A new signing secret: `whsec_` and 32 random bytes.
pub fn generate() -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
}

/// What the API shows of a secret to tell it apart: `whsec_` and four characters.
pub fn hint(secret: &str) -> String {
    secret.chars().take(PREFIX.len() + 4).collect()
}

/// Seals and opens secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

impl SecretBox {
    /// The box of a deployment's key material (the webhook key secret's value).
    pub fn derive(key_material: &[u8]) -> Self {
        Self::derive_for(key_material, b"switchboard webhook secrets v1")
    }

    /// The box of `key_material` for one `purpose`: other purposes get other keys.
    pub fn derive_for(key_material: &[u8], purpose: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key_material).expect("HMAC takes any key length");
        mac.update(purpose);
        let key = mac.finalize().into_bytes();
        Self {
            cipher: Aes256Gcm::new_from_slice(&key).expect("a 32-byte key"),
        }
    }

    pub fn seal(&self, secret: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
            .expect("AES-GCM encrypts any length we use");
        STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// The secret sealed in `sealed`; an error when it was sealed under another key or altered.
    pub fn open(&self, sealed: &str) -> anyhow::Result<String> {
        let bytes = STANDARD.decode(sealed)?;
        anyhow::ensure!(bytes.len() > NONCE_LEN, "a sealed secret too short");
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| anyhow::anyhow!("a sealed secret that does not open under this key"))?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_open_under_their_key_only() {
        let key = SecretBox::derive(b"deployment key material");
        let secret = generate();
        assert!(secret.starts_with("whsec_") && secret.len() == 6 + 43);
        let sealed = key.seal(&secret);
        assert!(!sealed.contains(&secret[6..]), "sealed means unreadable");
        assert_eq!(key.open(&sealed).unwrap(), secret);
        assert_ne!(key.seal(&secret), sealed, "a fresh nonce each time");
        assert!(SecretBox::derive(b"another key").open(&sealed).is_err());
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open(&STANDARD.encode(tampered)).is_err());
        assert_eq!(hint(&secret).len(), 10);
    }
}
