//! Web Push (RFC 8030 delivery, RFC 8291 `aes128gcm` encryption, RFC 8292 VAPID): the `web-push`
//! crate builds the request (encrypts the payload for the subscription's keys and signs the
//! VAPID JWT with `sub` from `--vapid-subject`), awc sends it to the subscription's endpoint.
//! `TTL` is what is left of the delivery's TTL, `Topic` the room's collapse key. The VAPID JWT
//! is signed once per push-service origin per hour ([`super::jwt_cache`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use web_push::request_builder::build_request;
use web_push::{
    ContentEncoding, PartialVapidSignatureBuilder, SubscriptionInfo, VapidSignature,
    WebPushMessageBuilder,
};

use super::jwt_cache::JwtCache;
use super::provider::{read_answer, Answer};
use crate::db::devices::DeviceRow;
use crate::db::push_queue::Delivery;

/// The Web Push provider: the VAPID key and subject.
#[derive(Clone)]
pub struct WebPush {
    vapid: PartialVapidSignatureBuilder,
    subject: String,
    /// Shared by every clone (every send in flight).
    signed: Arc<Mutex<JwtCache>>,
}

impl WebPush {
    pub fn new(vapid: PartialVapidSignatureBuilder, subject: String) -> WebPush {
        WebPush {
            vapid,
            subject,
            signed: Arc::default(),
        }
    }

    /// Sends one delivery; `ttl` is how long the push service may keep it.
    pub async fn send(&self, client: &awc::Client, delivery: &Delivery, ttl: Duration) -> Answer {
        let request = match self.request(&delivery.device, delivery, ttl) {
            Ok(request) => request,
            Err(why) => return Answer::Refused { why },
        };
        let (parts, body) = request.into_parts();
        let mut outgoing = client.request(parts.method, parts.uri.to_string());
        for (name, value) in &parts.headers {
            outgoing = outgoing.insert_header((name.clone(), value.clone()));
        }
        match outgoing.send_body(body).await {
            Ok(mut response) => read_answer(&mut response).await,
            Err(err) => Answer::unreachable(err),
        }
    }

    /// The HTTP request of RFC 8030 for one delivery, encrypted and signed.
    pub fn request(
        &self,
        device: &DeviceRow,
        delivery: &Delivery,
        ttl: Duration,
    ) -> Result<http::Request<Vec<u8>>, String> {
        let (Some(p256dh), Some(auth)) = (&device.p256dh, &device.auth) else {
            return Err("the subscription has no keys".into());
        };
        let info = SubscriptionInfo::new(device.target(), p256dh, auth);
        // RFC 8292's `aud` is the endpoint's origin, port included (the crate's own default
        // leaves a port out).
        let origin = url::Url::parse(device.target())
            .map_err(|err| format!("the endpoint is not a URL: {err}"))?
            .origin()
            .ascii_serialization();
        let signature = self.signature(&info, origin)?;
        let mut message = WebPushMessageBuilder::new(&info);
        message.set_payload(ContentEncoding::Aes128Gcm, delivery.payload.as_bytes());
        message.set_ttl(u32::try_from(ttl.as_secs()).unwrap_or(u32::MAX));
        message.set_topic(delivery.collapse_key());
        message.set_vapid_signature(signature);
        let message = message
            .build()
            .map_err(|err| format!("cannot build the Web Push message: {err}"))?;
        Ok(build_request::<Vec<u8>>(message))
    }

    /// The VAPID JWT for the endpoint's `origin`: the one signed within the hour, or a new
    /// one. (A lock poisoned by a panic elsewhere holds only finished signatures: used as is.)
    fn signature(&self, info: &SubscriptionInfo, origin: String) -> Result<VapidSignature, String> {
        let now = Instant::now();
        let cached = (self.signed.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .get(&origin, now);
        if let Some(signature) = cached {
            return Ok(signature);
        }
        let mut builder = self.vapid.clone().add_sub_info(info);
        builder.add_claim("sub", self.subject.as_str());
        builder.add_claim("aud", origin.as_str());
        let signature = builder
            .build()
            .map_err(|err| format!("cannot sign the VAPID JWT: {err}"))?;
        (self.signed.lock())
            .unwrap_or_else(PoisonError::into_inner)
            .put(&origin, signature.clone(), now);
        Ok(signature)
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use web_push::VapidSignatureBuilder;

    use super::*;
    use crate::model::UserId;

    fn provider() -> WebPush {
        let vapid = VapidSignatureBuilder::from_base64_no_sub(&URL_SAFE_NO_PAD.encode([1u8; 32]))
            .expect("a valid key");
        WebPush::new(vapid, "mailto:ops@example.com".into())
    }

    fn delivery(p256dh: &[u8], auth: &[u8]) -> Delivery {
        Delivery {
            id: 1,
            device: DeviceRow {
                id: 1,
                user_id: UserId(1),
                kind: "webpush".into(),
                address: "webpush http://127.0.0.1:9/push/a".into(),
                p256dh: Some(URL_SAFE_NO_PAD.encode(p256dh)),
                auth: Some(URL_SAFE_NO_PAD.encode(auth)),
                created_ms: 0,
            },
            room_id: 3,
            payload: r#"{"room":"r_3"}"#.into(),
            attempts: 0,
            created_ms: 0,
            expires_ms: 0,
        }
    }

    #[test]
    fn the_subscription_key_decrypts_what_is_sent() {
        let (keys, auth) = ece::generate_keypair_and_auth_secret().expect("keys");
        let public = keys.pub_as_raw().expect("public key");
        let delivery = delivery(&public, &auth);
        let request = provider()
            .request(&delivery.device, &delivery, Duration::from_secs(60))
            .expect("a request");
        assert_eq!(request.headers()["content-encoding"], "aes128gcm");
        let components = keys.raw_components().expect("components");
        let plain = ece::decrypt(&components, &auth, request.body()).expect("decrypts");
        assert_eq!(plain, delivery.payload.as_bytes());
    }

    /// The encryption trusts the subscription's key to be on the curve without the full
    /// check OpenSSL would make (vendor/ece/PATCH.md): one that is not is still refused.
    #[test]
    fn a_key_off_the_curve_is_refused() {
        let (keys, auth) = ece::generate_keypair_and_auth_secret().expect("keys");
        let mut public = keys.pub_as_raw().expect("public key");
        public[64] ^= 1;
        let delivery = delivery(&public, &auth);
        let refused = provider().request(&delivery.device, &delivery, Duration::from_secs(60));
        assert!(
            matches!(&refused, Err(why) if why.contains("cannot build")),
            "{:?}",
            refused.map(|request| request.into_body().len())
        );
    }
}
