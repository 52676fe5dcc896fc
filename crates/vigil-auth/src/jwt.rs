//! Registry bearer tokens: short-lived JWTs (HS256) signed with a key kept in the data directory. They carry the
//! account id and the API token id, so that deleting an account or revoking a token takes effect at once.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::scope::ResourceAccess;
use crate::secret::load_or_create_key;

pub const ISSUER: &str = "vigil";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// Account id; empty for anonymous tokens.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    /// Account name at issue time (for logs; authorization uses `sub`).
    pub name: String,
    /// `password`, `token` or `none`: how the token was obtained.
    pub cred: String,
    /// The API token used to obtain it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<String>,
    pub access: Vec<ResourceAccess>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub service: String,
}

impl JwtKeys {
    /// Loads the signing key from `path`, creating a random one (mode 0600) on first use.
    pub fn load_or_create(path: &Path, service: &str) -> std::io::Result<Self> {
        Ok(Self::from_secret(&load_or_create_key(path)?, service))
    }

    pub fn from_secret(key: &[u8], service: &str) -> Self {
        JwtKeys {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            service: service.to_owned(),
        }
    }

    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// Verifies signature, issuer, audience, expiry and not-before.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[&self.service]);
        v.validate_nbf = true;
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map(|d| d.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        let now = vigil_store::now_ms() / 1000;
        Claims {
            iss: ISSUER.into(),
            sub: "id".into(),
            aud: "vigil".into(),
            exp: now + exp_in,
            nbf: now,
            iat: now,
            jti: "j".into(),
            name: "alice".into(),
            cred: "password".into(),
            tid: None,
            access: vec![],
        }
    }

    #[test]
    fn sign_verify_and_reject() {
        let keys = JwtKeys::from_secret(&[7; 32], "vigil");
        let t = keys.sign(&claims(60));
        assert_eq!(keys.verify(&t).unwrap().name, "alice");
        assert!(keys.verify(&keys.sign(&claims(-60))).is_err(), "expired");
        assert!(JwtKeys::from_secret(&[8; 32], "vigil").verify(&t).is_err(), "wrong key");
        assert!(JwtKeys::from_secret(&[7; 32], "other").verify(&t).is_err(), "wrong audience");
        let mut forged = t.clone();
        forged.replace_range(forged.len() - 3.., "AAA");
        assert!(keys.verify(&forged).is_err(), "bad signature");
        assert!(keys.verify("not.a.jwt").is_err());
    }
}
