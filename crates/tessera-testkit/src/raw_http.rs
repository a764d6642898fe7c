//! Raw HTTP/1.1 over TLS, byte by byte if need be: for requests no HTTP
//! client library will send (oversized or malformed heads, bodies that never
//! end, handshakes that never finish). Blocking: run it with `spawn_blocking`.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a read waits before the test calls the server hung.
const READ_LIMIT: Duration = Duration::from_secs(30);

/// What the server did with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawAnswer {
    /// A response: its status and body (as text, lossily).
    Response { status: u16, body: String },
    /// The connection was closed (or reset) without a response.
    Closed,
}

impl RawAnswer {
    pub fn status(&self) -> Option<u16> {
        match self {
            RawAnswer::Response { status, .. } => Some(*status),
            RawAnswer::Closed => None,
        }
    }

    /// The JSON body's `error` member, or "".
    pub fn error(&self) -> String {
        match self {
            RawAnswer::Response { body, .. } => serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or_default(),
            RawAnswer::Closed => String::new(),
        }
    }
}

/// One TLS connection to a test server (trusting only the per-run CA).
pub struct RawTls {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl RawTls {
    /// Connects and completes the TLS handshake.
    pub fn connect(addr: SocketAddr) -> Self {
        Self::connect_with(addr, Arc::new(crate::client_config_builder().with_no_client_auth()))
    }

    /// Connects offering only `suites`, in that order of preference.
    pub fn connect_offering(addr: SocketAddr, suites: &[rustls::SupportedCipherSuite]) -> Self {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = suites.to_vec();
        let config = crate::client_config_builder_with(provider).with_no_client_auth();
        Self::connect_with(addr, Arc::new(config))
    }

    /// Connects with the caller's client configuration (its session store:
    /// resumption).
    pub fn connect_with(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Self {
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(READ_LIMIT)).unwrap();
        tcp.set_nodelay(true).unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).unwrap();
        }
        Self { stream }
    }

    /// The cipher suite the server chose.
    pub fn cipher_suite(&self) -> Option<rustls::CipherSuite> {
        self.stream.conn.negotiated_cipher_suite().map(|s| s.suite())
    }

    /// Whether the handshake was full or resumed.
    pub fn handshake_kind(&self) -> Option<rustls::HandshakeKind> {
        self.stream.conn.handshake_kind()
    }

    /// Sends bytes; `false` once the server has closed the connection.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok() && self.stream.flush().is_ok()
    }

    /// Sends `bytes` one at a time, `pause` apart, until sent or the server
    /// closes the connection; says whether all of it was sent.
    pub fn trickle(&mut self, bytes: &[u8], pause: Duration, give_up_after: Duration) -> bool {
        let start = Instant::now();
        for b in bytes {
            if start.elapsed() > give_up_after || !self.send(&[*b]) {
                return false;
            }
            std::thread::sleep(pause);
        }
        true
    }

    /// Reads decrypted bytes without writing first. rustls' `Stream::read`
    /// flushes any unsent request bytes before reading, and once the server
    /// has answered an oversized request and closed (with the rest unread,
    /// so the connection is reset) that write fails and the answer, already
    /// received, would never be read.
    fn read_plain(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match self.stream.conn.reader().read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                done => return done,
            }
            let received = self.stream.conn.read_tls(&mut self.stream.sock)?;
            self.stream
                .conn
                .process_new_packets()
                .map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))?;
            if received == 0 {
                // The peer closed: what was decrypted, then end of stream.
                return match self.stream.conn.reader().read(buf) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(0),
                    done => done,
                };
            }
        }
    }

    /// Reads one response (head, then a `Content-Length` body), or notes the close.
    pub fn read_answer(&mut self) -> RawAnswer {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(at) = find(&buf, b"\r\n\r\n") {
                break at + 4;
            }
            match self.read_plain(&mut chunk) {
                Ok(0) => return RawAnswer::Closed,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    panic!("no answer within {READ_LIMIT:?}")
                }
                Err(_) => return RawAnswer::Closed,
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {head}"));
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match self.read_plain(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let end = buf.len().min(head_end + length);
        RawAnswer::Response {
            status,
            body: String::from_utf8_lossy(&buf[head_end..end]).into_owned(),
        }
    }

    /// Waits for the server to close the connection, reading and dropping
    /// whatever it sends first (e.g. a 408); `true` when it closed.
    pub fn closed_by_server(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }
}

/// A TCP connection that never starts its TLS handshake.
pub fn idle_tcp(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(READ_LIMIT)).unwrap();
    tcp
}

/// Whether the server closes `tcp` (read returns end of file or reset) within the read limit.
pub fn closed_by_server(mut tcp: TcpStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match tcp.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => return false,
            Err(_) => return true,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The server's resident memory, in KiB (its peak with `peak`), from
/// `/proc/self/status`: the test server runs in this process.
pub fn resident_kib(peak: bool) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = if peak { "VmHWM:" } else { "VmRSS:" };
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
