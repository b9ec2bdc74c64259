//! Opaque, tamper-evident pagination cursors bound to the query that made them.
//!
//! A cursor is `base64url(json{key, binding})` + `.` + `base64url(HMAC-SHA256)[..16 bytes]`.
//! The binding is a hash of the route, the workspace and the filters; a cursor decoded under
//! another binding, or with a bad MAC, is refused with `invalid_cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use switchboard_core::ErrorCode;

use crate::ApiError;
use switchboard_core::ports::PageKey;

const MAC_LEN: usize = 16;

/// The key cursors are signed with (derived from the service secret).
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl CursorKey {
    /// Derives the cursor key from the service secret, so the two never coincide.
    pub fn derive(secret: &[u8]) -> Self {
        Self(crate::derive_key(secret, b"switchboard pagination cursor v1"))
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(payload);
        mac.finalize().into_bytes()[..MAC_LEN].to_vec()
    }

    pub fn encode(&self, key: &PageKey, binding: &str) -> String {
        let payload = serde_json::to_vec(&Payload {
            k: key.clone(),
            b: binding_hash(binding),
        })
        .expect("cursor payload serialises");
        let mac = self.mac(&payload);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&payload), URL_SAFE_NO_PAD.encode(mac))
    }

    pub fn decode(&self, cursor: &str, binding: &str) -> Result<PageKey, ApiError> {
        let invalid = || {
            ApiError::param(
                ErrorCode::InvalidCursor,
                "cursor",
                "The cursor is not valid for this list; start again without it.",
            )
        };
        let (payload, mac) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| invalid())?;
        let expected = self.mac(&payload);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), mac.as_slice())) {
            return Err(invalid());
        }
        let payload: Payload = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if payload.b != binding_hash(binding) {
            return Err(invalid());
        }
        Ok(payload.k)
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    k: PageKey,
    b: String,
}

fn binding_hash(binding: &str) -> String {
    switchboard_core::secret::sha256_hex(binding)[..16].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No cursor a client sends makes decoding panic, and only our own decode.
        #[test]
        fn no_cursor_makes_decoding_panic(cursor in "\\PC{0,200}", pk in "\\PC{0,30}", sk in "\\PC{0,30}") {
            let k = CursorKey::derive(b"secret");
            proptest::prop_assert!(k.decode(&cursor, "GET /v1/agents ws_1").is_err());
            let key = PageKey::from([("PK".to_owned(), pk), ("SK".to_owned(), sk)]);
            let ours = k.encode(&key, "GET /v1/agents ws_1");
            proptest::prop_assert_eq!(k.decode(&ours, "GET /v1/agents ws_1").ok(), Some(key));
        }
    }

    fn key() -> PageKey {
        PageKey::from([
            ("PK".to_owned(), "ws_1#AGENT".to_owned()),
            ("SK".to_owned(), "agt_1".to_owned()),
        ])
    }

    #[test]
    fn cursors_round_trip_only_under_their_own_query() {
        let k = CursorKey::derive(b"secret");
        let c = k.encode(&key(), "GET /v1/agents ws_1");
        assert_eq!(k.decode(&c, "GET /v1/agents ws_1").unwrap(), key());
        assert_eq!(
            k.decode(&c, "GET /v1/agents ws_2").unwrap_err().code,
            ErrorCode::InvalidCursor
        );
        assert_eq!(
            CursorKey::derive(b"other")
                .decode(&c, "GET /v1/agents ws_1")
                .unwrap_err()
                .code,
            ErrorCode::InvalidCursor
        );
    }

    #[test]
    fn altered_cursors_are_refused() {
        let k = CursorKey::derive(b"secret");
        let c = k.encode(&key(), "b");
        let (payload, mac) = c.split_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(payload).unwrap();
        let at = raw.iter().position(|&b| b == b'1').unwrap();
        raw[at] = b'2';
        let forged = format!("{}.{mac}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(k.decode(&forged, "b").unwrap_err().code, ErrorCode::InvalidCursor);
        assert!(k.decode("garbage", "b").is_err());
        assert!(k.decode("", "b").is_err());
    }
}
