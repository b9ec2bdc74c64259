//! Session JWTs: HS256 only, signed with the key read from Secrets Manager at cold start.

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use switchboard_core::model::Role;

/// How long a session lasts.
pub const SESSION_TTL: Duration = Duration::days(7);

/// Claims of a session token (`sub`, `tid`, `role`, `email`, `iat`, `exp`), plus `jti`,
/// the session id that logout revokes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// User id.
    pub sub: String,
    /// Workspace id.
    pub tid: String,
    pub role: Role,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// Signing and verification keys, derived once from the secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Installing twice is harmless: the provider is the same.
        let _ = HS256_ONLY.install_default();
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the service clock in `verify`, so tests can move time.
        validation.validate_exp = false;
        validation.required_spec_claims = ["sub", "exp"].iter().map(|s| s.to_string()).collect();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, claims: &SessionClaims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    /// The claims of a validly signed HS256 token, expired or not; `None` for anything else.
    pub fn decode(&self, token: &str) -> Option<SessionClaims> {
        jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
    }

    /// The claims of a valid, unexpired token.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<SessionClaims> {
        self.decode(token).filter(|c| c.exp > now.timestamp())
    }
}

/// jsonwebtoken's cryptography, for the one algorithm sessions use: its bundled providers bring
/// RSA, ECDSA and EdDSA into every function that checks a session.
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: hs256_signer,
    verifier_factory: hs256_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

struct Hs256(Hmac<Sha256>);

impl Hs256 {
    fn new(algorithm: &Algorithm, secret: JwtResult<&[u8]>) -> JwtResult<Self> {
        if *algorithm != Algorithm::HS256 {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        Hmac::new_from_slice(secret?)
            .map(Self)
            .map_err(|_| ErrorKind::InvalidKeyFormat.into())
    }
}

fn hs256_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    Ok(Box::new(Hs256::new(algorithm, Ok(key.as_bytes()))?))
}

fn hs256_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hs256::new(algorithm, key.try_get_as_bytes())?))
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        Ok(self.0.clone().chain_update(message).finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        // `verify_slice` compares in constant time.
        self.0
            .clone()
            .chain_update(message)
            .verify_slice(signature)
            .map_err(SignatureError::from_source)
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn claims(now: DateTime<Utc>) -> SessionClaims {
        SessionClaims {
            sub: "usr_1".into(),
            tid: "ws_1".into(),
            role: Role::Owner,
            email: "a@b.co".into(),
            iat: now.timestamp(),
            exp: (now + SESSION_TTL).timestamp(),
            jti: "ses_1".into(),
        }
    }

    #[test]
    fn tokens_round_trip_until_they_expire() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let token = keys.issue(&claims(now)).unwrap();
        assert_eq!(keys.verify(&token, now), Some(claims(now)));
        assert_eq!(keys.verify(&token, now + SESSION_TTL), None);
        assert_eq!(
            JwtKeys::new(b"another secret, another signature").verify(&token, now),
            None
        );
    }

    #[test]
    fn tokens_with_another_algorithm_are_refused() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now)).unwrap());
        for alg in ["none", "HS512", "RS256"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let forged = format!("{header}.{body}.");
            assert_eq!(keys.verify(&forged, now), None, "{alg}");
        }
        // Signed right, with the same secret, but naming HS512.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT"}"#);
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(b"0123456789abcdef0123456789abcdef").unwrap();
        mac.update(format!("{header}.{body}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        assert_eq!(keys.verify(&format!("{header}.{body}.{signature}"), now), None);
        // And one whose header says HS256 over an HS512 signature.
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        assert_eq!(keys.verify(&format!("{header}.{body}.{signature}"), now), None);
    }
}
