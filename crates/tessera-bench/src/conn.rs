//! One HTTP/1.1 connection over TLS: hyper's client connection API driven
//! in the worker's own task (no task per connection, no channel hop).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

type Io = TokioIo<TlsStream<TcpStream>>;

/// A transport failure, by kind (the JSON report counts them by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Connect,
    Tls,
    /// The connection closed before the response was complete.
    Closed,
    /// hyper refused or failed the exchange (malformed response, ...).
    Http,
    Body,
    Timeout,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Connect => "connect",
            Transport::Tls => "tls",
            Transport::Closed => "closed",
            Transport::Http => "http",
            Transport::Body => "body",
            Transport::Timeout => "timeout",
        }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub server_name: ServerName<'static>,
    pub connector: TlsConnector,
}

impl Endpoint {
    pub fn new(addr: SocketAddr, host: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self, String> {
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| format!("server name {host}: {e}"))?;
        Ok(Self {
            addr,
            server_name,
            connector: TlsConnector::from(tls),
        })
    }
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Pin<Box<Connection<Io, Full<Bytes>>>>,
    /// The driver has finished (the server closed): do not reuse.
    closed: bool,
    /// The TLS handshake resumed an earlier session.
    pub resumed: bool,
}

impl Conn {
    pub async fn connect(ep: &Endpoint) -> Result<Conn, Transport> {
        let tcp = TcpStream::connect(ep.addr).await.map_err(|_| Transport::Connect)?;
        let _ = tcp.set_nodelay(true);
        let tls = ep
            .connector
            .connect(ep.server_name.clone(), tcp)
            .await
            .map_err(|_| Transport::Tls)?;
        let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|_| Transport::Http)?;
        Ok(Conn {
            sender,
            driver: Box::pin(driver),
            closed: false,
            resumed,
        })
    }

    /// Usable for another request.
    pub fn is_open(&self) -> bool {
        !self.closed && !self.sender.is_closed()
    }

    /// Sends `req` and reads the whole response.
    pub async fn exchange(&mut self, req: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), Transport> {
        let Conn {
            sender, driver, closed, ..
        } = self;
        let exchange = async move {
            sender.ready().await.map_err(|_| Transport::Closed)?;
            let res = sender.send_request(req).await.map_err(|e| {
                if e.is_closed() || e.is_canceled() || e.is_incomplete_message() {
                    Transport::Closed
                } else {
                    Transport::Http
                }
            })?;
            let status = res.status();
            let body = res.into_body().collect().await.map_err(|_| Transport::Body)?;
            Ok((status, body.to_bytes()))
        };
        let mut exchange = std::pin::pin!(exchange);
        tokio::select! {
            biased;
            r = &mut exchange => r,
            _ = driver.as_mut() => {
                // The connection ended (possibly right after delivering the
                // response): what was delivered still counts.
                *closed = true;
                exchange.await
            }
        }
    }
}
