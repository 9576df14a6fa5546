//! JWT sign-in (docs/protocol.md section 10, docs/auth.md): the keys a backend signs with
//! (a shared secret, a PEM file, or a JWKS URL that `super::jwks` fetches and keeps), and
//! checking a token's signature and claims with jsonwebtoken.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::jwks::{JwksError, JwksSource};

/// Allowed clock skew between the issuing backend and this server.
const LEEWAY_S: u64 = 30;

/// How the server was told to verify JWTs.
#[derive(Clone, Debug, Default)]
pub struct JwtSettings {
    pub secret: Option<String>,
    pub public_key: Option<std::path::PathBuf>,
    pub jwks_url: Option<String>,
    pub jwks_timeout: Duration,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The TLS setup a JWKS is fetched with.
    pub outbound: crate::outbound::Outbound,
}

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Malformed, badly signed, expired, or missing a required claim: 401.
    #[error("the JWT was refused: {0}")]
    Refused(String),
    /// The JWKS could not be fetched and no cached key fits: 503.
    #[error("cannot fetch the JWKS from {url}: {reason}")]
    KeysUnavailable { url: String, reason: String },
}

/// What a valid JWT says about its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub sub: String,
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    name: Option<String>,
}

enum Keys {
    Secret(DecodingKey),
    Pem(DecodingKey, Algorithm),
    Jwks(JwksCache),
}

pub struct JwtVerifier {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtVerifier {
    /// The verifier the settings describe; `None` when JWT sign-in is off.
    pub fn from_settings(settings: &JwtSettings) -> Result<Option<JwtVerifier>, String> {
        let keys = match (&settings.secret, &settings.public_key, &settings.jwks_url) {
            (None, None, None) => return Ok(None),
            (Some(secret), None, None) => {
                if secret.len() < 16 {
                    return Err("--jwt-secret must be at least 16 bytes".into());
                }
                Keys::Secret(
                    DecodingKey::from_secret(secret.as_bytes())
                        .map_err(|err| format!("--jwt-secret: {err}"))?,
                )
            }
            (None, Some(path), None) => {
                let pem = std::fs::read(path)
                    .map_err(|err| format!("--jwt-public-key {}: {err}", path.display()))?;
                match DecodingKey::from_rsa_pem(&pem) {
                    Ok(key) => Keys::Pem(key, Algorithm::RS256),
                    Err(_) => match DecodingKey::from_ec_pem(&pem) {
                        Ok(key) => Keys::Pem(key, Algorithm::ES256),
                        Err(err) => {
                            return Err(format!(
                                "--jwt-public-key {}: not an RSA or EC public key in PEM: {err}",
                                path.display()
                            ))
                        }
                    },
                }
            }
            (None, None, Some(url)) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!(
                        "--jwt-jwks-url {url:?}: must be an https:// (or http://) URL"
                    ));
                }
                Keys::Jwks(JwksCache::new(
                    url.clone(),
                    settings.jwks_timeout,
                    settings.outbound.clone(),
                ))
            }
            _ => {
                return Err("give one of --jwt-secret, --jwt-public-key and --jwt-jwks-url".into())
            }
        };
        Ok(Some(JwtVerifier {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }))
    }

    /// Checks the signature, `exp` (required), `nbf` (when present), `iss`/`aud` when
    /// configured, and `sub`.
    pub async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        let refused = |err: jsonwebtoken::errors::Error| JwtError::Refused(err.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(refused)?;
        let (key, algorithm) = match &self.keys {
            Keys::Secret(key) => (key.clone(), Algorithm::HS256),
            Keys::Pem(key, algorithm) => (key.clone(), *algorithm),
            Keys::Jwks(cache) => cache.key(header.kid.as_deref()).await?,
        };
        if header.alg != algorithm {
            return Err(JwtError::Refused(format!(
                "the JWT is signed with {:?}; this server takes {algorithm:?}",
                header.alg
            )));
        }
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_S;
        validation.set_required_spec_claims(&["exp", "sub"]);
        // `nbf`, when present, is enforced (with the same leeway as `exp`).
        validation.validate_nbf = true;
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(refused)?
            .claims;
        // `sub` is stored: the same check as the admin API's external ids.
        crate::db::identity::check_external_id(&claims.sub).map_err(JwtError::Refused)?;
        Ok(Identity {
            sub: claims.sub,
            name: claims.name,
        })
    }
}

/// Whether a bearer token is a JWT rather than a Palaver token (`pv_…`).
pub fn looks_like_jwt(token: &str) -> bool {
    !token.starts_with("pv_") && token.split('.').count() == 3
}

/// The keys of a JWKS URL (`super::jwks` fetches and keeps them), and the one a token names.
struct JwksCache {
    source: JwksSource,
}

impl JwksCache {
    fn new(url: String, timeout: Duration, outbound: crate::outbound::Outbound) -> JwksCache {
        JwksCache {
            source: JwksSource::new(url, timeout, outbound),
        }
    }

    async fn key(&self, kid: Option<&str>) -> Result<(DecodingKey, Algorithm), JwtError> {
        if let Some(found) = self.cached(kid, false)? {
            return Ok(found);
        }
        // Waits for the fetch in flight, or fetches; 503 while no key set was ever fetched.
        self.source
            .refresh(|| matches!(self.cached(kid, false), Ok(Some(_))))
            .await
            .map_err(
                |JwksError::Unavailable { url, reason }| JwtError::KeysUnavailable { url, reason },
            )?;
        self.cached(kid, true)?.ok_or_else(|| {
            JwtError::Refused(match kid {
                Some(kid) => format!("no key {kid:?} in the JWKS"),
                None => "the JWT names no key (`kid`) and the JWKS has several".into(),
            })
        })
    }

    /// The key for `kid` from the cached set; with `stale_ok`, also from an expired set.
    fn cached(
        &self,
        kid: Option<&str>,
        stale_ok: bool,
    ) -> Result<Option<(DecodingKey, Algorithm)>, JwtError> {
        let Some(keys) = self.source.keys(stale_ok) else {
            return Ok(None);
        };
        let jwk = match kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else { return Ok(None) };
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|err| JwtError::Refused(format!("the JWKS key is not usable: {err}")))?;
        // Only public keys: an `oct` (shared secret) key in a JWKS is refused, whatever
        // `alg` the token names, or anyone who can read the JWKS could sign tokens.
        let algorithm = match key.family() {
            jsonwebtoken::AlgorithmFamily::Rsa => Algorithm::RS256,
            jsonwebtoken::AlgorithmFamily::Ec => Algorithm::ES256,
            family => {
                return Err(JwtError::Refused(format!(
                    "the JWKS key is a {family:?} key; only RSA (RS256) and EC (ES256) keys are taken from a JWKS"
                )))
            }
        };
        Ok(Some((key, algorithm)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn hs256(secret: &str) -> JwtVerifier {
        JwtVerifier::from_settings(&JwtSettings {
            secret: Some(secret.into()),
            ..JwtSettings::default()
        })
        .expect("settings")
        .expect("on")
    }

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()).expect("key"),
        )
        .expect("sign")
    }

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    #[actix_rt::test]
    async fn a_good_token_names_its_user() {
        let verifier = hs256("0123456789abcdef");
        let jwt = token(
            "0123456789abcdef",
            json!({"sub":"42","name":"Amy","exp":now() + 60}),
        );
        assert!(looks_like_jwt(&jwt));
        let identity = verifier.verify(&jwt).await.expect("valid");
        assert_eq!(identity.sub, "42");
        assert_eq!(identity.name.as_deref(), Some("Amy"));
    }

    #[actix_rt::test]
    async fn expired_unsigned_and_claimless_tokens_are_refused() {
        let verifier = hs256("0123456789abcdef");
        let cases = [
            token("0123456789abcdef", json!({"sub":"42","exp":now() - 3600})),
            token("another secret!!", json!({"sub":"42","exp":now() + 60})),
            token("0123456789abcdef", json!({"sub":"42"})),
            token("0123456789abcdef", json!({"exp":now() + 60})),
            token("0123456789abcdef", json!({"sub":"","exp":now() + 60})),
            token(
                "0123456789abcdef",
                json!({"sub":"4\u{0}2","exp":now() + 60}),
            ),
            token(
                "0123456789abcdef",
                json!({"sub":"42","exp":now() + 600,"nbf":now() + 300}),
            ),
            "a.b.c".to_string(),
        ];
        for jwt in cases {
            assert!(
                matches!(verifier.verify(&jwt).await, Err(JwtError::Refused(_))),
                "{jwt}"
            );
        }
    }

    #[test]
    fn one_key_source_at_most_and_secrets_are_long_enough() {
        let both = JwtSettings {
            secret: Some("0123456789abcdef".into()),
            jwks_url: Some("http://127.0.0.1:1/jwks".into()),
            ..JwtSettings::default()
        };
        assert!(JwtVerifier::from_settings(&both).is_err());
        let short = JwtSettings {
            secret: Some("short".into()),
            ..JwtSettings::default()
        };
        assert!(JwtVerifier::from_settings(&short).is_err());
        assert!(JwtVerifier::from_settings(&JwtSettings::default())
            .expect("off")
            .is_none());
        assert!(!looks_like_jwt("pv_abc.def.ghi"));
    }
}
