//! The signatures of a delivery:
//!
//! - `Switchboard-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, one
//!   `v1` per live secret (during a rotation, the new one's first): receivers reject old `t`s,
//!   so a captured delivery cannot be replayed later;
//! - `X-Switchboard-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`, the simple form of
//!   receivers written for VoxForge. It carries one signature, so during a rotation it is made
//!   with the previous secret, which every receiver still holds until it expires.

use hmac::{Hmac, KeyInit as _, Mac};
use sha2::Sha256;

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The two signature headers of `body` sent at `t` (unix seconds), with `secrets` newest first.
pub fn headers(secrets: &[String], body: &[u8], t: i64) -> (String, String) {
    let stamp = t.to_string();
    let mut timed = format!("t={stamp}");
    for secret in secrets {
        timed.push_str(",v1=");
        timed.push_str(&hmac_hex(secret, &[stamp.as_bytes(), b".", body]));
    }
    let simple = secrets
        .last()
        .map(|oldest| format!("sha256={}", hmac_hex(oldest, &[body])))
        .unwrap_or_default();
    (timed, simple)
}

/// Whether a `Switchboard-Signature` header signs `body` with `secret`, sent within
/// `tolerance_secs` of `now`: what a receiver checks.
pub fn verify_timed(header: &str, body: &[u8], secret: &str, now: i64, tolerance_secs: i64) -> bool {
    signed_at(header, body, secret, now, tolerance_secs).is_some()
}

/// When a `Switchboard-Signature` header that verifies (as [`verify_timed`] checks) was signed:
/// its `t`, which with the body tells one sending from its replays.
pub fn signed_at(header: &str, body: &[u8], secret: &str, now: i64, tolerance_secs: i64) -> Option<i64> {
    use subtle::ConstantTimeEq;
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    // `t` is the sender's: any i64, so the difference is checked, not assumed to fit.
    let t = t.filter(|&t| {
        now.checked_sub(t)
            .is_some_and(|apart| apart.unsigned_abs() <= tolerance_secs.unsigned_abs())
    })?;
    let expected = hmac_hex(secret, &[t.to_string().as_bytes(), b".", body]);
    signatures
        .iter()
        .any(|s| bool::from(s.as_bytes().ct_eq(expected.as_bytes())))
        .then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No header makes verification panic; what we sign verifies within the tolerance, and
        /// only then.
        #[test]
        fn no_header_makes_verification_panic(
            header in "\\PC{0,120}",
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            t in proptest::prelude::any::<i64>(),
            now in proptest::prelude::any::<i64>(),
        ) {
            let _ = verify_timed(&header, &body, SECRET, now, 300);
            // Any time a sender names, however far from ours.
            let _ = verify_timed(&format!("t={t},v1=00"), &body, SECRET, now, 300);
            let t = t / 4;
            let (timed, _) = headers(&[SECRET.to_owned()], &body, t);
            proptest::prop_assert!(verify_timed(&timed, &body, SECRET, t, 300));
            proptest::prop_assert_eq!(verify_timed(&timed, &body, SECRET, t.saturating_add(301), 300), false);
        }
    }

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","event":"call.ended"}"#;

    #[test]
    fn times_at_the_ends_of_the_range_are_refused() {
        for t in [i64::MIN, i64::MAX] {
            let (timed, _) = headers(&[SECRET.to_owned()], BODY, t);
            assert!(!verify_timed(&timed, BODY, SECRET, 1_700_000_000, 300), "t={t}");
            assert_eq!(signed_at(&timed, BODY, SECRET, t, 300), Some(t));
        }
    }

    #[test]
    fn known_vectors() {
        // HMAC-SHA256 test case 2 of RFC 4231: key "Jefe".
        assert_eq!(
            hmac_hex("Jefe", &[b"what do ya want for nothing?"]),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let (timed, simple) = headers(&[SECRET.to_owned()], BODY, 1_700_000_000);
        assert_eq!(
            timed,
            format!("t=1700000000,v1={}", hmac_hex(SECRET, &[b"1700000000.", BODY]))
        );
        assert_eq!(simple, format!("sha256={}", hmac_hex(SECRET, &[BODY])));
    }

    #[test]
    fn receivers_accept_fresh_signatures_only() {
        let (timed, _) = headers(&[SECRET.to_owned()], BODY, 1_700_000_000);
        assert!(verify_timed(&timed, BODY, SECRET, 1_700_000_100, 300));
        assert!(
            !verify_timed(&timed, BODY, SECRET, 1_700_000_301, 300),
            "replayed later"
        );
        assert!(!verify_timed(&timed, b"{}", SECRET, 1_700_000_000, 300), "another body");
        assert!(
            !verify_timed(&timed, BODY, "whsec_other", 1_700_000_000, 300),
            "another secret"
        );
        let moved = timed.replace("t=1700000000", "t=1700000200");
        assert!(
            !verify_timed(&moved, BODY, SECRET, 1_700_000_200, 300),
            "t is signed too"
        );
    }

    #[test]
    fn during_a_rotation_both_secrets_verify() {
        let (new, old) = ("whsec_new".to_owned(), "whsec_old".to_owned());
        let (timed, simple) = headers(&[new.clone(), old.clone()], BODY, 1_700_000_000);
        assert!(verify_timed(&timed, BODY, &new, 1_700_000_000, 300));
        assert!(verify_timed(&timed, BODY, &old, 1_700_000_000, 300));
        assert_eq!(simple, format!("sha256={}", hmac_hex(&old, &[BODY])));
    }
}
