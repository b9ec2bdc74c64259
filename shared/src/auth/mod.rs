//! Credentials: password hashes, API key and token secrets, session JWTs.

pub mod jwt;
pub mod password;
pub mod secret;
