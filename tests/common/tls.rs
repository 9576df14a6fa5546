//! TLS for tests: a certificate authority made for one test (rcgen) with a certificate for
//! 127.0.0.1 and localhost, written as PEM files (the server trusts the CA through
//! `--extra-ca`, nginx serves the certificate), and a small HTTPS stand-in on loopback that
//! answers each request from a closure and records what it was sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA of the test's own, and a server certificate it signed.
pub struct TestCa {
    _dir: tempfile::TempDir,
    /// The CA's certificate: what a client trusts (`--extra-ca`).
    pub ca_pem: PathBuf,
    /// The server certificate followed by the CA's (the chain nginx serves).
    pub chain_pem: PathBuf,
    /// The server certificate's private key.
    pub key_pem: PathBuf,
    ca_der: CertificateDer<'static>,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestCa {
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Palaver test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_pem = dir.path().join("ca.pem");
        let chain_pem = dir.path().join("chain.pem");
        let key_pem = dir.path().join("key.pem");
        std::fs::write(&ca_pem, ca.pem()).expect("write ca.pem");
        std::fs::write(&chain_pem, format!("{}{}", server.pem(), ca.pem())).expect("chain");
        std::fs::write(&key_pem, key.serialize_pem()).expect("write key.pem");
        TestCa {
            _dir: dir,
            ca_pem,
            chain_pem,
            key_pem,
            ca_der: ca.der().clone(),
            cert_der: server.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    pub fn ca_pem_arg(&self) -> String {
        self.ca_pem.display().to_string()
    }

    /// A rustls server setup serving the certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone(), self.ca_der.clone()], key)
            .expect("server certificate");
        Arc::new(config)
    }
}

/// One request the stand-in read.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
}

/// An HTTPS server on loopback: each request is answered with `answer(request)` (status and
/// JSON body), one connection at a time. `requests` holds what was read; `handshakes_failed`
/// counts clients that broke off the TLS handshake (a client that refuses the certificate).
pub struct HttpsStandIn {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
    pub handshakes_failed: Arc<Mutex<usize>>,
}

impl HttpsStandIn {
    pub fn start(
        config: Arc<rustls::ServerConfig>,
        answer: impl Fn(&Request) -> (u16, String) + Send + 'static,
    ) -> HttpsStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handshakes_failed: Arc<Mutex<usize>> = Arc::default();
        let (seen, failed) = (requests.clone(), handshakes_failed.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                match serve(&config, stream, &answer) {
                    Ok(Some(request)) => seen.lock().expect("lock").push(request),
                    Ok(None) => {}
                    Err(_) => *failed.lock().expect("lock") += 1,
                }
            }
        });
        HttpsStandIn {
            addr,
            requests,
            handshakes_failed,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

/// One exchange on one connection: `Err` when the TLS handshake failed, `Ok(None)` when the
/// client closed without a request.
fn serve(
    config: &Arc<rustls::ServerConfig>,
    mut tcp: TcpStream,
    answer: &impl Fn(&Request) -> (u16, String),
) -> Result<Option<Request>, std::io::Error> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut connection = rustls::ServerConnection::new(config.clone()).map_err(io_error)?;
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp)?;
    }
    let mut reader = BufReader::new(rustls::StreamOwned::new(connection, tcp));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let request = Request { method, path, body };
    let (status, text) = answer(&request);
    let stream = reader.get_mut();
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{text}",
        text.len()
    )?;
    stream.flush()?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(Some(request))
}

fn io_error(err: rustls::Error) -> std::io::Error {
    std::io::Error::other(err)
}
