//! The VAPID JWTs already signed, one per push-service origin (RFC 8292's `aud`), each
//! reused for [`REUSE_FOR`] of the 12 hours it is valid: one ES256 signature per origin per
//! hour instead of one per request. Bounded: at most [`MAX_ORIGINS`] origins are kept.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use web_push::VapidSignature;

/// How long one signature is reused. The `web-push` crate signs with `exp` 12 hours ahead;
/// a push service refuses a JWT whose `exp` is more than 24 hours ahead or past, so an hour
/// leaves 11 hours of margin for clocks that disagree.
pub const REUSE_FOR: Duration = Duration::from_secs(3600);

/// The most origins kept. A deployment's subscriptions point at a handful of push services
/// (FCM, Mozilla, Apple, Microsoft); more are made-up endpoints, not worth keeping.
pub const MAX_ORIGINS: usize = 64;

/// Signatures by origin, with when each was made.
#[derive(Debug, Default)]
pub struct JwtCache {
    signed: HashMap<String, (Instant, VapidSignature)>,
}

impl JwtCache {
    /// The signature made for `origin` less than [`REUSE_FOR`] before `now`.
    pub fn get(&self, origin: &str, now: Instant) -> Option<VapidSignature> {
        let (made, signature) = self.signed.get(origin)?;
        (now.saturating_duration_since(*made) < REUSE_FOR).then(|| signature.clone())
    }

    /// Keeps `signature` for `origin`, made at `now`. When [`MAX_ORIGINS`] are kept, the
    /// expired ones go first, then, if none has expired, all of them.
    pub fn put(&mut self, origin: &str, signature: VapidSignature, now: Instant) {
        if self.signed.len() >= MAX_ORIGINS && !self.signed.contains_key(origin) {
            self.signed
                .retain(|_, (made, _)| now.saturating_duration_since(*made) < REUSE_FOR);
            if self.signed.len() >= MAX_ORIGINS {
                self.signed.clear();
            }
        }
        self.signed.insert(origin.to_string(), (now, signature));
    }

    pub fn len(&self) -> usize {
        self.signed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.signed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(jwt: &str) -> VapidSignature {
        VapidSignature {
            auth_t: jwt.to_string(),
            auth_k: vec![4, 1, 2],
        }
    }

    #[test]
    fn reuses_a_signature_for_its_origin_for_an_hour() {
        let start = Instant::now();
        let mut cache = JwtCache::default();
        assert_eq!(cache.get("https://push.example", start), None);
        cache.put("https://push.example", signature("a"), start);
        let later = start + REUSE_FOR - Duration::from_secs(1);
        assert_eq!(
            cache.get("https://push.example", later),
            Some(signature("a"))
        );
        assert_eq!(cache.get("https://push.example:8443", later), None);
        assert_eq!(cache.get("https://push.example", start + REUSE_FOR), None);
        cache.put("https://push.example", signature("b"), start + REUSE_FOR);
        assert_eq!(
            cache.get("https://push.example", start + REUSE_FOR),
            Some(signature("b"))
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn keeps_at_most_max_origins_dropping_the_expired_first() {
        let start = Instant::now();
        let mut cache = JwtCache::default();
        cache.put("https://old.example", signature("old"), start);
        let now = start + REUSE_FOR;
        for n in 1..MAX_ORIGINS {
            cache.put(&format!("https://{n}.example"), signature("x"), now);
        }
        assert_eq!(cache.len(), MAX_ORIGINS);
        // Full: the expired one makes room, the live ones stay.
        cache.put("https://new.example", signature("new"), now);
        assert_eq!(cache.len(), MAX_ORIGINS);
        assert_eq!(cache.get("https://1.example", now), Some(signature("x")));
        assert_eq!(
            cache.get("https://new.example", now),
            Some(signature("new"))
        );
        // Full of live ones: all go, the new one stays.
        cache.put("https://newer.example", signature("newer"), now);
        assert_eq!(cache.len(), 1);
        assert_eq!(
            cache.get("https://newer.example", now),
            Some(signature("newer"))
        );
        // Replacing a kept origin never clears.
        cache.put("https://newer.example", signature("again"), now);
        assert_eq!(cache.len(), 1);
    }
}
