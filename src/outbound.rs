//! Outbound HTTP: the one TLS setup every call this server makes goes through (JWKS key
//! sets, bot webhooks, and push providers to come). rustls with the platform's root
//! certificates, plus the certificates of `--extra-ca FILE` trusted as well, built once at
//! start. An `awc::Client` cannot cross threads, so each caller makes its own from the one
//! shared setup with [`Outbound::client`]; making one is cheap (no certificates are read).

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// Most redirects an outbound call follows.
const MAX_REDIRECTS: u8 = 3;
/// Longest a TCP connect and TLS handshake may take, whatever the call's own deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("--extra-ca {path}: {reason}")]
    ExtraCa { path: PathBuf, reason: String },
}

/// The shared TLS setup of outbound calls; cloning it shares it.
#[derive(Clone, Debug)]
pub struct Outbound {
    tls: Arc<ClientConfig>,
    /// Root certificates trusted: the platform's and `--extra-ca`'s.
    roots: usize,
    platform: usize,
    extra: usize,
}

/// The platform's root certificates, read once per process.
static PLATFORM_ROOTS: LazyLock<RootCertStore> = LazyLock::new(|| {
    let mut roots = RootCertStore::empty();
    let platform = rustls_native_certs::load_native_certs();
    for err in &platform.errors {
        log::warn!("outbound TLS: a platform root certificate store: {err}");
    }
    let (_, ignored) = roots.add_parsable_certificates(platform.certs);
    if ignored > 0 {
        log::warn!("outbound TLS: {ignored} platform root certificates are not usable");
    }
    roots
});

impl Default for Outbound {
    /// The platform's roots only.
    fn default() -> Outbound {
        Outbound::with_roots(PLATFORM_ROOTS.clone())
    }
}

impl Outbound {
    /// The platform's roots (as rustls-native-certs finds them: on Debian, those of the
    /// ca-certificates package) and every certificate in the PEM file `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Result<Outbound, OutboundError> {
        let mut roots = PLATFORM_ROOTS.clone();
        let platform = roots.len();
        let extra = match extra_ca {
            Some(path) => add_pem_file(&mut roots, path)?,
            None => 0,
        };
        let mut outbound = Outbound::with_roots(roots);
        outbound.extra = extra;
        outbound.platform = platform;
        Ok(outbound)
    }

    /// Logs what is trusted; the server calls it once its flags are all checked (a flag
    /// refused later must stay the only line).
    pub fn log_roots(&self) {
        if self.roots == 0 {
            log::warn!(
                "outbound TLS: no trusted root certificate (install ca-certificates, or give \
                 --extra-ca): https:// calls will fail"
            );
        }
        log::info!(
            "outbound TLS: {} platform root certificates, {} from --extra-ca",
            self.platform,
            self.extra
        );
    }

    fn with_roots(roots: RootCertStore) -> Outbound {
        // ring, not rustls's default aws-lc-rs: it builds with a C compiler alone, and the
        // tests' certificates (rcgen) use it too. rustls 0.23.48 marks it deprecated for
        // lacking post-quantum key exchange; the calls it carries (public key sets, bot
        // webhooks) are made afresh each time, and a later change of provider is this line.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let count = roots.len();
        let mut tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            // ring supports both of rustls's default versions (TLS 1.2 and 1.3).
            .unwrap_or_else(|err| unreachable!("rustls with ring: {err}"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        // HTTP/2 where the server offers it (push providers need it), else HTTP/1.1.
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Outbound {
            tls: Arc::new(tls),
            roots: count,
            platform: count,
            extra: 0,
        }
    }

    /// How many root certificates are trusted.
    pub fn roots(&self) -> usize {
        self.roots
    }

    /// A client for this thread, for `http://` and `https://` URLs: at most `timeout` from
    /// sending a request to its response's headers, unless a request sets its own. Reading
    /// the body has no deadline of its own: a caller bounds the whole exchange (see
    /// `bots::webhook`, `http::jwks`).
    pub fn client(&self, timeout: Duration) -> awc::Client {
        let connector = awc::Connector::new()
            .timeout(CONNECT_TIMEOUT.min(timeout))
            .rustls_0_23(self.tls.clone());
        awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .max_redirects(MAX_REDIRECTS)
            .finish()
    }
}

/// Adds every certificate of a PEM file; a file without one is an error.
fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, OutboundError> {
    let failed = |reason: String| OutboundError::ExtraCa {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|err| failed(err.to_string()))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| failed(format!("not PEM: {err}")))?;
        roots
            .add(cert)
            .map_err(|err| failed(format!("a certificate is not usable: {err}")))?;
        added += 1;
    }
    if added == 0 {
        return Err(failed("holds no PEM certificate".into()));
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extra_ca_file_must_hold_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        assert!(matches!(
            Outbound::new(Some(&missing)),
            Err(OutboundError::ExtraCa { .. })
        ));
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "no certificate here\n").expect("write");
        let err = Outbound::new(Some(&empty)).expect_err("no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        assert!(Outbound::new(Some(&garbage)).is_err());
    }

    #[test]
    fn an_extra_ca_is_trusted_beside_the_platform_roots() {
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, ca.cert.pem()).expect("write");
        let platform = Outbound::default().roots();
        let with_extra = Outbound::new(Some(&path)).expect("with the extra CA");
        assert_eq!(with_extra.roots(), platform + 1);
    }
}
