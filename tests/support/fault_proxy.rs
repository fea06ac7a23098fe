//! A fault-injecting TCP proxy for tests: sits between inboxtop and the simulator on loopback and
//! misbehaves on purpose, one connection at a time, as its current `Fault` says.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the next connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Forward both ways untouched.
    Pass,
    /// Forward this many response bytes, then reset the connection (RST) mid-frame.
    ResetAfter(usize),
    /// Forward this many response bytes, then close cleanly (a truncated response).
    TruncateAfter(usize),
    /// Forward this many response bytes, then forward nothing more, keeping the connection open
    /// (a half-open stall).
    StallAfter(usize),
    /// Hold every response chunk this long before forwarding it.
    Delay(Duration),
    /// Accept and immediately close (the server is "there" but refuses to talk).
    Refuse,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    fault: Arc<Mutex<Fault>>,
    accepted: Arc<Mutex<u64>>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let fault = Arc::new(Mutex::new(fault));
        let accepted = Arc::new(Mutex::new(0));
        let (f, a) = (fault.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                *a.lock().unwrap() += 1;
                let current = *f.lock().unwrap();
                tokio::spawn(handle(client, upstream, current));
            }
        });
        FaultProxy {
            addr,
            fault,
            accepted,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes what happens to connections accepted from now on.
    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        *self.accepted.lock().unwrap()
    }
}

async fn handle(client: TcpStream, upstream: SocketAddr, fault: Fault) {
    // SO_LINGER 0: closing the socket sends RST instead of FIN (a reset, or a refusal).
    if matches!(fault, Fault::Refuse | Fault::ResetAfter(_)) {
        // Deprecated because linger 0 blocks-free aborts are surprising; an abort is the point here.
        #[allow(deprecated)]
        let _ = client.set_linger(Some(Duration::ZERO));
    }
    if fault == Fault::Refuse {
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut server_rd, mut server_wr) = server.into_split();
    // Requests go upstream untouched.
    let requests = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rd, &mut server_wr).await;
    });
    let limit = match fault {
        Fault::ResetAfter(n) | Fault::TruncateAfter(n) | Fault::StallAfter(n) => Some(n),
        _ => None,
    };
    let mut forwarded = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_rd.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Fault::Delay(d) = fault {
            tokio::time::sleep(d).await;
        }
        let take = limit.map_or(n, |l| n.min(l - forwarded));
        if client_wr.write_all(&buf[..take]).await.is_err() {
            break;
        }
        forwarded += take;
        if limit.is_some_and(|l| forwarded >= l) {
            break;
        }
    }
    match fault {
        Fault::ResetAfter(_) => {
            // No FIN from the write half; dropping the read half (in the aborted copier) closes
            // the socket, and SO_LINGER 0 makes that a RST.
            client_wr.forget();
            requests.abort();
        }
        Fault::StallAfter(_) => {
            // Keep the connection open and silent until the client gives up.
            let _keep = (client_wr, server_rd, requests);
            std::future::pending::<()>().await;
        }
        _ => {
            let _ = client_wr.shutdown().await;
        }
    }
}
