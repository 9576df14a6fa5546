//! The JWKS source against stand-ins on loopback: a key server that answers, one that
//! sends its body a byte a second (slow-loris), one that never answers, one that sends too
//! much, and one that answers late while its first caller goes away.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;

const DEADLINE: Duration = Duration::from_millis(500);
/// Far longer than DEADLINE, far shorter than what the stand-ins would take to finish.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(10);
const KEYS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;

#[derive(Clone)]
enum Behaviour {
    Keys,
    /// Headers at once, then the body a byte a second (at most 60 bytes, then it hangs up).
    SlowLoris,
    /// Reads the request and says nothing for 60 s.
    Hang,
    /// A body twice the bound.
    Oversize,
    /// The keys after a pause.
    Late(Duration),
}

struct StandIn {
    url: String,
    connections: Arc<AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl StandIn {
    fn start(behaviour: Behaviour) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        let connections = Arc::new(AtomicUsize::new(0));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let (counted, current) = (connections.clone(), behaviour.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                counted.fetch_add(1, Ordering::SeqCst);
                let behaviour = current.lock().expect("lock").clone();
                std::thread::spawn(move || answer(stream, behaviour));
            }
        });
        StandIn {
            url,
            connections,
            behaviour,
        }
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("lock") = behaviour;
    }

    fn source(&self) -> JwksSource {
        JwksSource::new(self.url.clone(), DEADLINE, Outbound::default())
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn answer(mut stream: TcpStream, behaviour: Behaviour) {
    let mut request = [0u8; 4096];
    let _ = stream.read(&mut request);
    let head = |length: usize| {
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n")
    };
    match behaviour {
        Behaviour::Keys => {
            let _ = stream.write_all(format!("{}{KEYS}", head(KEYS.len())).as_bytes());
        }
        Behaviour::Late(pause) => {
            std::thread::sleep(pause);
            let _ = stream.write_all(format!("{}{KEYS}", head(KEYS.len())).as_bytes());
        }
        Behaviour::SlowLoris => {
            let _ = stream.write_all(head(KEYS.len()).as_bytes());
            for byte in KEYS.bytes().take(60) {
                std::thread::sleep(Duration::from_secs(1));
                if stream.write_all(&[byte]).is_err() {
                    return;
                }
            }
        }
        Behaviour::Hang => std::thread::sleep(Duration::from_secs(60)),
        Behaviour::Oversize => {
            let body = vec![b' '; 2 * MAX_BYTES];
            let _ = stream.write_all(head(body.len()).as_bytes());
            let _ = stream.write_all(&body);
        }
    }
}

fn unavailable(result: Result<(), JwksError>) -> String {
    match result {
        Err(JwksError::Unavailable { reason, .. }) => reason,
        Ok(()) => panic!("expected no keys"),
    }
}

#[actix_rt::test]
async fn keys_are_fetched_once_and_kept() {
    let stand_in = StandIn::start(Behaviour::Keys);
    let source = stand_in.source();
    assert!(source.keys(true).is_none());
    source.refresh(|| false).await.expect("fetched");
    let keys = source.keys(false).expect("fresh keys");
    assert!(keys.find("k1").is_some());
    // Within REFETCH, asking again fetches nothing.
    source.refresh(|| false).await.expect("kept");
    assert_eq!(stand_in.connections(), 1);
}

#[actix_rt::test]
async fn a_slow_loris_body_is_cut_at_the_deadline() {
    let stand_in = StandIn::start(Behaviour::SlowLoris);
    let source = stand_in.source();
    let started = Instant::now();
    let reason = unavailable(source.refresh(|| false).await);
    assert!(reason.contains("no complete answer within"), "{reason}");
    assert!(
        started.elapsed() < CUT_OFF_WITHIN,
        "{:?}",
        started.elapsed()
    );
}

/// Eight callers at once against a hung key server: one fetch, every caller 503
/// (Unavailable) once the deadline passes, and again for a caller after it.
#[actix_rt::test]
async fn a_hung_key_server_is_one_fetch_and_unavailable_for_everyone() {
    let stand_in = StandIn::start(Behaviour::Hang);
    let source = stand_in.source();
    let started = Instant::now();
    let results = futures_util::future::join_all((0..8).map(|_| source.refresh(|| false))).await;
    assert!(
        started.elapsed() < CUT_OFF_WITHIN,
        "{:?}",
        started.elapsed()
    );
    for result in results {
        let reason = unavailable(result);
        assert!(reason.contains("no complete answer within"), "{reason}");
    }
    assert_eq!(stand_in.connections(), 1, "one fetch at a time");
    // Later callers, before a new fetch may start: still Unavailable, never "no key".
    unavailable(source.refresh(|| false).await);
    assert_eq!(stand_in.connections(), 1);
}

#[actix_rt::test]
async fn keys_are_kept_when_a_later_fetch_fails() {
    let stand_in = StandIn::start(Behaviour::Keys);
    let mut source = stand_in.source();
    source.ttl = Duration::ZERO;
    source.refetch = Duration::ZERO;
    source.refresh(|| false).await.expect("fetched");
    for failing in [Behaviour::Hang, Behaviour::Oversize] {
        stand_in.set(failing);
        source.refresh(|| false).await.expect("the old keys stand");
        assert!(source.keys(false).is_none(), "stale (TTL zero)");
        assert!(source.keys(true).expect("kept").find("k1").is_some());
        assert!(lock(&source.state).failure.is_some());
    }
    assert_eq!(stand_in.connections(), 3);
}

#[actix_rt::test]
async fn a_body_over_the_bound_is_refused() {
    let stand_in = StandIn::start(Behaviour::Oversize);
    let reason = unavailable(stand_in.source().refresh(|| false).await);
    assert!(reason.contains("larger than"), "{reason}");
}

/// The caller that started a fetch goes away; the fetch goes on, and the next caller waits
/// for it instead of starting another.
#[actix_rt::test]
async fn a_fetch_outlives_the_caller_that_started_it() {
    let stand_in = StandIn::start(Behaviour::Late(Duration::from_millis(300)));
    let source = Arc::new(stand_in.source());
    let first = source.clone();
    let abandoned = actix_rt::spawn(async move {
        let _ = first.refresh(|| false).await;
    });
    while stand_in.connections() == 0 {
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    abandoned.abort();
    source
        .refresh(|| false)
        .await
        .expect("waited for the fetch in flight");
    assert!(source.keys(false).is_some());
    assert_eq!(stand_in.connections(), 1);
}
