//! Opening one authenticated WebSocket: bind the socket to a local 127.0.0.N address (so
//! that more connections fit than one source address has ports), upgrade, read `hello`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// Where connections go and come from.
#[derive(Clone, Debug)]
pub struct Target {
    pub server: SocketAddr,
    /// Local source addresses used: 127.0.0.1 to 127.0.0.`local_ips`.
    pub local_ips: u32,
}

impl Target {
    /// The source address for the `index`-th connection.
    fn local(&self, index: usize) -> SocketAddr {
        let host = (index as u32 % self.local_ips.max(1)) + 1;
        let ip = Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 0)) + host);
        SocketAddr::V4(SocketAddrV4::new(ip, 0))
    }
}

/// Connects as the user of `token` and waits for `hello`, at most `timeout`.
pub async fn connect(target: &Target, index: usize, token: &str, timeout: Duration) -> Result<Ws> {
    connect_with(target, index, token, timeout, None).await
}

/// [`connect`], with the socket's receive buffer set to `recv_buffer` bytes when given (a
/// small one makes a client that stops reading back up on the server sooner).
pub async fn connect_with(
    target: &Target,
    index: usize,
    token: &str,
    timeout: Duration,
    recv_buffer: Option<u32>,
) -> Result<Ws> {
    tokio::time::timeout(timeout, open(target, index, token, recv_buffer))
        .await
        .context("timed out connecting")?
}

async fn open(target: &Target, index: usize, token: &str, recv_buffer: Option<u32>) -> Result<Ws> {
    let socket = TcpSocket::new_v4().context("socket")?;
    if let Some(bytes) = recv_buffer {
        socket.set_recv_buffer_size(bytes).context("SO_RCVBUF")?;
    }
    let local = target.local(index);
    socket
        .bind(local)
        .with_context(|| format!("bind {local}"))?;
    let stream = socket
        .connect(target.server)
        .await
        .with_context(|| format!("connect {} from {local}", target.server))?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{}/ws?token={token}", target.server);
    let (mut ws, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .context("WebSocket upgrade")?;
    match ws.next().await {
        Some(Ok(Message::Text(text))) if text.as_str().contains(r#""type":"hello""#) => Ok(ws),
        Some(Ok(other)) => bail!("expected hello, got {other:?}"),
        Some(Err(err)) => Err(err).context("reading hello"),
        None => bail!("closed before hello"),
    }
}

/// Sends a text frame.
pub async fn send_text(ws: &mut Ws, text: String) -> Result<()> {
    ws.send(Message::text(text))
        .await
        .context("sending a frame")
}
