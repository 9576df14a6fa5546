//! End-to-end with bytes written by hand on a raw socket: the frame-length attack (a header
//! declaring 2^63−1 bytes is closed with 1009 at once and the server's memory stays flat),
//! every RFC 6455 violation with its close code, and a fragmented message with a ping
//! between its fragments.

#[path = "../src/websocket/client_frame.rs"]
mod client_frame;
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Backend, Database, Server};

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A WebSocket opened by hand; the server's hello is read and dropped.
fn open(server: &Server, token: &str) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(address).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        socket,
        "GET /ws?token={token} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).expect("handshake answer");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let (opcode, hello) = read_frame(&mut socket).expect("hello");
    assert_eq!(opcode, 1);
    assert!(String::from_utf8_lossy(&hello).contains("\"hello\""));
    socket
}

/// A masked client frame; `first` is the FIN/RSV/opcode byte.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    client_frame::masked(first, payload, MASK).expect("a frame in memory")
}

/// One server frame: its opcode and payload (server frames are not masked).
fn read_frame(socket: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    socket.read_exact(&mut head).ok()?;
    let mut len = u64::from(head[1] & 0x7f);
    if len == 126 {
        let mut ext = [0u8; 2];
        socket.read_exact(&mut ext).ok()?;
        len = u64::from(u16::from_be_bytes(ext));
    } else if len == 127 {
        let mut ext = [0u8; 8];
        socket.read_exact(&mut ext).ok()?;
        len = u64::from_be_bytes(ext);
    }
    let mut payload = vec![0u8; len as usize];
    socket.read_exact(&mut payload).ok()?;
    Some((head[0] & 0x0f, payload))
}

/// The close code the server sends, skipping other frames (pings, replies).
fn close_code(socket: &mut TcpStream) -> Option<u16> {
    while let Some((opcode, payload)) = read_frame(socket) {
        if opcode == 8 {
            return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
        }
    }
    None
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

async fn setup() -> (Server, String, Database) {
    let db = Database::new(Backend::Sqlite).await;
    let server = Server::start(&db).await;
    let (_, token) = server.user("amy").await;
    (server, token, db)
}

#[actix_rt::test]
async fn a_huge_declared_length_closes_1009_at_once_and_memory_stays_flat() {
    let (server, token, _db) = setup().await;
    let before = rss_kib(server.pid());
    let mut sockets = Vec::new();
    let started = Instant::now();
    for _ in 0..4 {
        let mut socket = open(&server, &token);
        let mut header = vec![0x81, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        header.extend_from_slice(&MASK);
        socket.write_all(&header).expect("header");
        // Stream data as an attacker would, 100 MB per connection at most; the server
        // closes long before.
        let chunk = vec![0x41u8; 1 << 20];
        for _ in 0..100 {
            if socket.write_all(&chunk).is_err() {
                break;
            }
        }
        assert_eq!(close_code(&mut socket), Some(1009));
        sockets.push(socket);
    }
    let after = rss_kib(server.pid());
    eprintln!(
        "RSS {before} KiB -> {after} KiB after 4 connections declaring 2^63-1 bytes ({:?})",
        started.elapsed()
    );
    assert!(
        after < before + 32 * 1024,
        "the server's memory grew from {before} KiB to {after} KiB"
    );
}

#[actix_rt::test]
async fn every_violation_closes_with_its_rfc_6455_code() {
    let (server, token, _db) = setup().await;
    let chain = |a: Vec<u8>, b: Vec<u8>| a.into_iter().chain(b).collect::<Vec<u8>>();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "invalid UTF-8",
            frame(0x81, &[0xce, 0xba, 0xff, 0xfe]),
            1007,
        ),
        (
            "invalid UTF-8 across fragments",
            chain(frame(0x01, &[0xf0, 0x9f]), frame(0x80, b"A")),
            1007,
        ),
        ("unmasked", vec![0x81, 0x02, b'{', b'}'], 1002),
        ("RSV1 set", frame(0xC1, b"{}"), 1002),
        ("reserved data opcode", frame(0x83, b"x"), 1002),
        ("reserved control opcode", frame(0x8B, b"x"), 1002),
        ("ping over 125 bytes", frame(0x89, &[0u8; 126]), 1002),
        ("fragmented ping", frame(0x09, b"x"), 1002),
        ("continuation without start", frame(0x80, b"x"), 1002),
        (
            "new message inside a fragmented one",
            chain(frame(0x01, b"{"), frame(0x81, b"{}")),
            1002,
        ),
        ("one-byte close payload", frame(0x88, &[0x03]), 1002),
        ("close code 1005", frame(0x88, &1005u16.to_be_bytes()), 1002),
        ("close code 999", frame(0x88, &999u16.to_be_bytes()), 1002),
        ("close code 5000", frame(0x88, &5000u16.to_be_bytes()), 1002),
        (
            "close reason not UTF-8",
            frame(0x88, &[0x03, 0xe8, 0xff]),
            1007,
        ),
    ];
    for (name, bytes, code) in cases {
        let mut socket = open(&server, &token);
        socket.write_all(&bytes).expect("write");
        assert_eq!(close_code(&mut socket), Some(code), "{name}");
    }
    // A valid close is answered with the client's own code.
    let mut socket = open(&server, &token);
    socket
        .write_all(&frame(0x88, &[0x0f, 0xa0, b'b', b'y', b'e']))
        .expect("write");
    assert_eq!(close_code(&mut socket), Some(4000));
}

#[actix_rt::test]
async fn a_fragmented_command_with_a_ping_between_fragments_is_answered() {
    let (server, token, _db) = setup().await;
    let mut socket = open(&server, &token);
    let mut bytes = frame(0x01, br#"{"type":"pi"#);
    bytes.extend(frame(0x89, b"between"));
    bytes.extend(frame(0x00, br#"ng","id":"#));
    bytes.extend(frame(0x80, b"42}"));
    socket.write_all(&bytes).expect("write");
    let (opcode, payload) = read_frame(&mut socket).expect("pong");
    assert_eq!((opcode, payload.as_slice()), (0x0A, &b"between"[..]));
    let (opcode, reply) = read_frame(&mut socket).expect("reply");
    assert_eq!(opcode, 1);
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json");
    assert_eq!(reply["type"], "ok", "{reply}");
    assert_eq!(reply["id"], 42);
    // A text message over 64 KiB (and under the read limit) gets too_large; the
    // connection stays open.
    socket
        .write_all(&frame(0x81, &vec![b' '; 70 * 1024]))
        .expect("write");
    let (_, reply) = read_frame(&mut socket).expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json");
    assert_eq!(reply["code"], "too_large", "{reply}");
    socket
        .write_all(&frame(0x81, br#"{"type":"ping","id":1}"#))
        .expect("write");
    let (_, reply) = read_frame(&mut socket).expect("reply");
    assert!(String::from_utf8_lossy(&reply).contains("\"ok\""));
}

#[actix_rt::test]
async fn replies_queued_before_a_broken_rule_or_the_clients_close_are_sent_before_the_close() {
    let (server, token, _db) = setup().await;
    // Autobahn 3.2, 4.1.3, 5.15: the answer to what came before a broken rule went missing,
    // dropped with the queue when the close was asked for.
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("RSV2 set", frame(0xA1, b"{}"), 1002),
        ("reserved opcode", frame(0x83, b"x"), 1002),
        ("invalid UTF-8", frame(0x81, &[0xce, 0xba, 0xff]), 1007),
        (
            "the client's close",
            frame(0x88, &1000u16.to_be_bytes()),
            1000,
        ),
    ];
    for (name, violation, code) in cases {
        let mut socket = open(&server, &token);
        let mut bytes = frame(0x81, br#"{"type":"ping","id":7}"#);
        bytes.extend(frame(0x89, b"before"));
        bytes.extend(violation);
        bytes.extend(frame(0x89, b"after"));
        socket.write_all(&bytes).expect("write");
        let (opcode, reply) = read_frame(&mut socket).expect("reply");
        assert_eq!(opcode, 1, "{name}");
        let reply: serde_json::Value = serde_json::from_slice(&reply).expect("json");
        assert_eq!(
            (&reply["type"], &reply["id"]),
            (&"ok".into(), &7.into()),
            "{name}"
        );
        let (opcode, payload) = read_frame(&mut socket).expect("pong");
        assert_eq!(
            (opcode, payload.as_slice()),
            (0x0A, &b"before"[..]),
            "{name}"
        );
        let (opcode, payload) = read_frame(&mut socket).expect("close");
        assert_eq!(
            opcode, 8,
            "{name}: the close comes next, and nothing after it"
        );
        assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), code, "{name}");
        // Then the server closes the TCP connection: the client's side is still open.
        let mut rest = Vec::new();
        assert_eq!(socket.read_to_end(&mut rest).ok(), Some(0), "{name}");
    }
}
