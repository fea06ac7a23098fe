//! The `takeover` scenario's second client: it holds the simulated agent's id too, and reconnects
//! on its own irregular schedule. Every connect takes the agent's stream (the adapter keeps one per
//! agent id) and starts one more heartbeat task; whatever the adapter sends while it holds the
//! stream (messages included) is its, not the monitor's.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::hub::Connection;
use super::{Sim, stopped};

/// Reconnects every 1-4 s (simulated) until the simulator stops.
pub(super) async fn other_client(sim: Arc<Sim>) {
    let shutdown = sim.shutdown.clone();
    tokio::select! {
        () = reconnect_forever(&sim) => {}
        () = stopped(shutdown) => {}
    }
}

async fn reconnect_forever(sim: &Sim) {
    let mut held: Option<Connection> = None;
    loop {
        let gap = Duration::from_secs_f64(sim.between(1.0, 4.0));
        let next = Instant::now() + sim.config.real(gap);
        if let Some(connection) = held.as_mut() {
            read_until(connection, next).await;
        }
        sleep_until(next).await;
        // Like any client, it closes its old stream before it opens the next.
        drop(held.take());
        held = Some(sim.connect());
    }
}

/// Reads (and so takes) what the adapter sends until `deadline`, or until the monitor takes the
/// stream back and it ends.
async fn read_until(connection: &mut Connection, deadline: Instant) {
    while let Ok(Some(_frame)) = timeout_at(deadline, connection.frames.recv()).await {}
}
