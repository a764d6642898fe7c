//! A TCP forwarder to put between a server and its database, so a test can
//! make the database unreachable (every connection cut, new ones refused)
//! and bring it back, without touching the shared database server.

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpProxy {
    pub addr: SocketAddr,
    target: SocketAddr,
    stop: Option<watch::Sender<bool>>,
}

impl TcpProxy {
    /// Forwards 127.0.0.1:(free port) to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut proxy = Self {
            addr,
            target,
            stop: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, stopped) = watch::channel(false);
        let target = self.target;
        actix_web::rt::spawn(async move {
            let mut accept_stop = stopped.clone();
            loop {
                let (mut inbound, _) = tokio::select! {
                    accepted = listener.accept() => match accepted { Ok(c) => c, Err(_) => break },
                    _ = accept_stop.changed() => break,
                };
                let mut conn_stop = stopped.clone();
                actix_web::rt::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = conn_stop.changed() => {}
                    }
                });
            }
        });
        self.stop = Some(stop);
    }

    /// Cuts every connection and refuses new ones.
    pub async fn pause(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        // Let the tasks see the signal and drop their sockets.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    /// Accepts connections again, on the same address.
    pub async fn resume(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }
}
