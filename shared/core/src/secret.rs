//! Secrets we mint (API keys, email tokens) and the SHA-256 lookups we store instead of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Every live API key secret starts with this.
pub const API_KEY_PREFIX: &str = "sb_live_";
/// Every test-mode API key secret starts with this (as long as the live prefix).
pub const TEST_API_KEY_PREFIX: &str = "sb_test_";
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 32 base62 characters: about 190 bits.
const API_KEY_RANDOM_LEN: usize = 32;
/// Characters after the prefix shown to recognise a key (`sb_live_aB3xYz`).
const DISPLAY_CHARS: usize = 6;

/// A new API key secret: a live one, or (`livemode` false) a test-mode one.
pub fn new_api_key(livemode: bool) -> String {
    let mut out = String::from(if livemode { API_KEY_PREFIX } else { TEST_API_KEY_PREFIX });
    for _ in 0..API_KEY_RANDOM_LEN {
        // 62 does not divide 256: rejection sampling keeps the characters uniform.
        loop {
            let b: u8 = rand::random();
            if (b as usize) < 248 {
                out.push(BASE62[b as usize % 62] as char);
                break;
            }
        }
    }
    out
}

/// Whether `token` has the shape of an API key (as opposed to a JWT).
pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(API_KEY_PREFIX) || token.starts_with(TEST_API_KEY_PREFIX)
}

/// The part of a key shown in listings.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(API_KEY_PREFIX.len() + DISPLAY_CHARS).collect()
}

/// A random URL-safe token (email verification).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex SHA-256: how secrets are stored and looked up.
pub fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_prefixed_random_and_displayed_by_their_start() {
        let a = new_api_key(true);
        let b = new_api_key(true);
        assert_ne!(a, b);
        assert_eq!(a.len(), API_KEY_PREFIX.len() + 32);
        assert!(looks_like_api_key(&a));
        assert_eq!(display_prefix(&a).len(), "sb_live_aB3xYz".len());
        assert!(a[API_KEY_PREFIX.len()..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
