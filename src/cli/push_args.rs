//! The notification flags of the server (docs/notifications.md): coalescing, previews,
//! retries, and each provider's settings (Web Push's VAPID, FCM's credentials file, APNs'
//! key), read and checked at start: a file that does not parse stops the start (exit 2).

use std::path::PathBuf;

use clap::Args;

use crate::push::apns::{Apns, ApnsConfig};
use crate::push::fcm::Fcm;

/// Notifications: coalescing, previews, retries, and the providers' settings.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// At most one notification per user and room this often, in milliseconds; the messages
    /// in between go together.
    #[arg(long = "push-coalesce-ms", env = "PALAVER_PUSH_COALESCE_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub coalesce_ms: u64,

    /// `full`: notifications show the first 200 characters of the message; `none`: they show
    /// no text (the providers never see what was written).
    #[arg(
        long = "push-preview",
        env = "PALAVER_PUSH_PREVIEW",
        default_value = "full"
    )]
    pub preview: crate::notify::Preview,

    /// Seconds a notification is tried (and kept by the push service) before it is given up.
    #[arg(long = "push-ttl", env = "PALAVER_PUSH_TTL", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=2_419_200))]
    pub ttl_secs: u64,

    /// Take http:// Web Push endpoints (tests and development against a local push service).
    #[arg(
        long = "push-insecure-endpoints",
        env = "PALAVER_PUSH_INSECURE_ENDPOINTS"
    )]
    pub insecure_endpoints: bool,

    /// Time-out of one request to a push provider, in milliseconds.
    #[arg(long = "push-timeout-ms", env = "PALAVER_PUSH_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub timeout_ms: u64,

    /// Requests in flight to one provider at most.
    #[arg(long = "push-concurrency", env = "PALAVER_PUSH_CONCURRENCY", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,

    /// The `sub` of Web Push's VAPID JWT: a `mailto:` or `https:` URL push services may use
    /// to reach the operator.
    #[arg(
        long = "vapid-subject",
        env = "PALAVER_VAPID_SUBJECT",
        default_value = "mailto:admin@localhost"
    )]
    pub vapid_subject: String,

    /// PEM file of the VAPID key (P-256); created with a new key when missing. Without it,
    /// the key is generated once and kept in the database.
    #[arg(long = "vapid-key", env = "PALAVER_VAPID_KEY")]
    pub vapid_key: Option<PathBuf>,

    /// FCM (HTTP v1): the service account's JSON key file (from the Firebase console);
    /// `fcm` devices are taken only with it.
    #[arg(
        long = "fcm-credentials",
        env = "PALAVER_FCM_CREDENTIALS",
        value_name = "FILE"
    )]
    pub fcm_credentials: Option<PathBuf>,

    /// FCM's endpoint (tests point it at a stand-in).
    #[arg(long = "fcm-endpoint", env = "PALAVER_FCM_ENDPOINT",
          default_value = crate::push::fcm::DEFAULT_ENDPOINT)]
    pub fcm_endpoint: String,

    /// APNs: the token-signing key (`.p8`, from Apple's developer site); `apns` devices are
    /// taken only with it and --apns-key-id, --apns-team-id and --apns-topic.
    #[arg(long = "apns-key", env = "PALAVER_APNS_KEY", value_name = "FILE",
          requires_all = ["apns_key_id", "apns_team_id", "apns_topic"])]
    pub apns_key: Option<PathBuf>,

    /// APNs: the key's id (10 characters, shown beside the key on Apple's site).
    #[arg(
        long = "apns-key-id",
        env = "PALAVER_APNS_KEY_ID",
        requires = "apns_key"
    )]
    pub apns_key_id: Option<String>,

    /// APNs: the team id the key belongs to.
    #[arg(
        long = "apns-team-id",
        env = "PALAVER_APNS_TEAM_ID",
        requires = "apns_key"
    )]
    pub apns_team_id: Option<String>,

    /// APNs: the app's bundle id (`apns-topic`).
    #[arg(long = "apns-topic", env = "PALAVER_APNS_TOPIC", requires = "apns_key")]
    pub apns_topic: Option<String>,

    /// APNs' endpoint: production by default; `https://api.sandbox.push.apple.com` for
    /// development builds of an app (tests point it at a stand-in).
    #[arg(long = "apns-endpoint", env = "PALAVER_APNS_ENDPOINT",
          default_value = crate::push::apns::DEFAULT_ENDPOINT)]
    pub apns_endpoint: String,
}

impl PushArgs {
    pub fn settings(&self) -> crate::push::PushSettings {
        use std::time::Duration;
        crate::push::PushSettings {
            coalesce: Duration::from_millis(self.coalesce_ms),
            preview: self.preview,
            ttl: Duration::from_secs(self.ttl_secs),
            insecure_endpoints: self.insecure_endpoints,
            timeout: Duration::from_millis(self.timeout_ms),
            concurrency: self.concurrency as usize,
            vapid_subject: self.vapid_subject.clone(),
        }
    }

    /// The FCM and APNs providers the flags configure, their files read and checked.
    pub fn providers(&self) -> Result<(Option<Fcm>, Option<Apns>), String> {
        let fcm = match &self.fcm_credentials {
            Some(path) => Some(Fcm::load(path, &self.fcm_endpoint).map_err(|err| err.to_string())?),
            None => None,
        };
        let apns = match (
            &self.apns_key,
            &self.apns_key_id,
            &self.apns_team_id,
            &self.apns_topic,
        ) {
            (Some(key), Some(key_id), Some(team_id), Some(topic)) => Some(
                Apns::load(&ApnsConfig {
                    key,
                    key_id,
                    team_id,
                    topic,
                    endpoint: &self.apns_endpoint,
                })
                .map_err(|err| err.to_string())?,
            ),
            _ => None,
        };
        Ok((fcm, apns))
    }
}
