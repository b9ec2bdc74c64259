//! What an idempotency record remembers of its request, and what its answer is sealed under:
//! keyed hashes of the method, path, query and body. Keyed, so that the table's contents can
//! neither open an answer nor be used to test guesses of what a request carried (a password
//! at login, a secret's value).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key requests' fingerprints are made with (derived from the service secret).
#[derive(Clone)]
pub struct FingerprintKey(Vec<u8>);

impl FingerprintKey {
    /// Derives the key from the service secret, so that it is no other key made from it.
    pub fn derive(secret: &[u8]) -> Self {
        Self(crate::derive_key(secret, b"switchboard idempotency fingerprint v1"))
    }

    /// The fingerprint of a request's `material` (its method, path, query and body), in hex: what
    /// its record keeps.
    pub fn of(&self, material: &str) -> String {
        self.mac(b"fingerprint\n", material)
    }

    /// What the answer to a request of `material` is sealed under, besides its credential:
    /// kept nowhere, made again by a replay of the same request.
    pub fn sealing(&self, material: &str) -> String {
        self.mac(b"sealing\n", material)
    }

    fn mac(&self, purpose: &[u8], material: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose);
        mac.update(material.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}
