//! A device to notify, as `POST /devices` registers it (docs/protocol.md section 12): a
//! browser's Web Push subscription, or an FCM or APNs token. Checked here, once, at the edge:
//! a Web Push endpoint is an `https://` URL (`http://` only with `--push-insecure-endpoints`)
//! and its keys are a P-256 public key (a point on the curve) and a 16-byte secret; a token is
//! printable ASCII.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Longest endpoint URL or token taken.
pub const MAX_ADDRESS_CHARS: usize = 2048;

/// Which provider delivers to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    Webpush,
    Fcm,
    Apns,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 3] = [DeviceKind::Webpush, DeviceKind::Fcm, DeviceKind::Apns];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Webpush => "webpush",
            DeviceKind::Fcm => "fcm",
            DeviceKind::Apns => "apns",
        }
    }

    pub fn parse(text: &str) -> Option<DeviceKind> {
        DeviceKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// A device as registered, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    WebPush {
        endpoint: String,
        /// The subscription's P-256 public key (65 bytes, uncompressed), base64url.
        p256dh: String,
        /// Its 16-byte authentication secret, base64url.
        auth: String,
    },
    Fcm {
        token: String,
    },
    Apns {
        token: String,
    },
}

/// Why a registration is refused (400 `bad_request` with this text).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("`endpoint` must be an https:// URL")]
    NotHttps,
    #[error("`endpoint` is not a URL: {0}")]
    BadUrl(String),
    #[error("`keys.p256dh` must be a P-256 public key (65 bytes, uncompressed, a point on the curve), base64url")]
    BadP256dh,
    #[error("`keys.auth` must be 16 bytes, base64url")]
    BadAuth,
    #[error("`{0}` must be 1 to {MAX_ADDRESS_CHARS} printable ASCII characters")]
    BadToken(&'static str),
}

impl Registration {
    pub fn kind(&self) -> DeviceKind {
        match self {
            Registration::WebPush { .. } => DeviceKind::Webpush,
            Registration::Fcm { .. } => DeviceKind::Fcm,
            Registration::Apns { .. } => DeviceKind::Apns,
        }
    }

    /// What makes the device unique, whoever registers it: the kind and endpoint or token.
    pub fn address(&self) -> String {
        let (kind, where_to) = match self {
            Registration::WebPush { endpoint, .. } => (self.kind(), endpoint),
            Registration::Fcm { token } | Registration::Apns { token } => (self.kind(), token),
        };
        format!("{} {where_to}", kind.as_str())
    }

    /// A Web Push subscription; `insecure`: `http://` endpoints are taken too.
    pub fn web_push(
        endpoint: &str,
        p256dh: &str,
        auth: &str,
        insecure: bool,
    ) -> Result<Registration, Refusal> {
        if !printable(endpoint) {
            return Err(Refusal::BadToken("endpoint"));
        }
        let url = url::Url::parse(endpoint).map_err(|err| Refusal::BadUrl(err.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if insecure => {}
            _ => return Err(Refusal::NotHttps),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Refusal::BadUrl("it names no host".into()));
        }
        let key = URL_SAFE_NO_PAD
            .decode(p256dh.trim_end_matches('='))
            .map_err(|_| Refusal::BadP256dh)?;
        // A point on the curve, checked once here: the encryption of every push trusts it
        // (vendor/ece/PATCH.md).
        if key.len() != 65 || key[0] != 4 || p256::PublicKey::from_sec1_bytes(&key).is_err() {
            return Err(Refusal::BadP256dh);
        }
        let secret = URL_SAFE_NO_PAD
            .decode(auth.trim_end_matches('='))
            .map_err(|_| Refusal::BadAuth)?;
        if secret.len() != 16 {
            return Err(Refusal::BadAuth);
        }
        Ok(Registration::WebPush {
            endpoint: endpoint.to_string(),
            p256dh: URL_SAFE_NO_PAD.encode(key),
            auth: URL_SAFE_NO_PAD.encode(secret),
        })
    }

    pub fn token(kind: DeviceKind, token: &str) -> Result<Registration, Refusal> {
        if !printable(token) {
            return Err(Refusal::BadToken("token"));
        }
        let token = token.to_string();
        Ok(match kind {
            DeviceKind::Fcm => Registration::Fcm { token },
            DeviceKind::Apns => Registration::Apns { token },
            DeviceKind::Webpush => return Err(Refusal::BadToken("endpoint")),
        })
    }
}

fn printable(text: &str) -> bool {
    (1..=MAX_ADDRESS_CHARS).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The user agent's public key of RFC 8291 appendix A.
    fn key() -> String {
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4"
            .into()
    }

    fn secret() -> String {
        URL_SAFE_NO_PAD.encode([9u8; 16])
    }

    #[test]
    fn a_web_push_endpoint_must_be_https_unless_allowed() {
        let ok = Registration::web_push("https://push.example/abc", &key(), &secret(), false);
        assert!(ok.is_ok(), "{ok:?}");
        assert_eq!(
            Registration::web_push("http://127.0.0.1:9/x", &key(), &secret(), false),
            Err(Refusal::NotHttps)
        );
        assert!(Registration::web_push("http://127.0.0.1:9/x", &key(), &secret(), true).is_ok());
        assert_eq!(
            Registration::web_push("ftp://x/y", &key(), &secret(), true),
            Err(Refusal::NotHttps)
        );
        assert!(matches!(
            Registration::web_push("not a url", &key(), &secret(), true),
            Err(Refusal::BadToken(_))
        ));
        assert!(matches!(
            Registration::web_push("nourl", &key(), &secret(), true),
            Err(Refusal::BadUrl(_))
        ));
    }

    #[test]
    fn web_push_keys_are_checked() {
        let url = "https://push.example/abc";
        assert_eq!(
            Registration::web_push(url, "AAAA", &secret(), false),
            Err(Refusal::BadP256dh)
        );
        assert_eq!(
            Registration::web_push(url, "!!", &secret(), false),
            Err(Refusal::BadP256dh)
        );
        // 65 bytes in the uncompressed form, but not a point on the curve.
        let mut off_curve = URL_SAFE_NO_PAD.decode(key()).expect("base64url");
        off_curve[64] ^= 1;
        assert_eq!(
            Registration::web_push(url, &URL_SAFE_NO_PAD.encode(off_curve), &secret(), false),
            Err(Refusal::BadP256dh)
        );
        // The compressed form (33 bytes) is a valid point, but RFC 8291 asks for the
        // uncompressed one.
        let point = URL_SAFE_NO_PAD.decode(key()).expect("base64url");
        let mut compressed = vec![2 + (point[64] & 1)];
        compressed.extend(&point[1..33]);
        assert_eq!(
            Registration::web_push(url, &URL_SAFE_NO_PAD.encode(compressed), &secret(), false),
            Err(Refusal::BadP256dh)
        );
        assert_eq!(
            Registration::web_push(url, &key(), "AAAA", false),
            Err(Refusal::BadAuth)
        );
        // Padding, as some browsers send it, is taken and dropped.
        let padded = format!("{}==", secret());
        assert!(Registration::web_push(url, &key(), &padded, false).is_ok());
    }

    #[test]
    fn the_address_is_the_kind_and_where_it_goes() {
        let fcm = Registration::token(DeviceKind::Fcm, "abc:DEF").expect("fcm");
        assert_eq!(fcm.address(), "fcm abc:DEF");
        let apns = Registration::token(DeviceKind::Apns, "abc:DEF").expect("apns");
        assert_ne!(fcm.address(), apns.address());
        assert!(Registration::token(DeviceKind::Fcm, "").is_err());
        assert!(Registration::token(DeviceKind::Fcm, "a b").is_err());
        assert!(Registration::token(DeviceKind::Fcm, &"a".repeat(2049)).is_err());
        for kind in DeviceKind::ALL {
            assert_eq!(DeviceKind::parse(kind.as_str()), Some(kind));
        }
    }
}
