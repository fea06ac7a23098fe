//! The simulated peer agents: a message to the simulated agent every ~`peer_interval`.

use chrono::Utc;
use std::sync::Arc;
use tokio::time::sleep;
use uuid::Uuid;

use super::inbox::Msg;
use super::{Sim, stopped};

const PEERS: &[&str] = &["agent-ops", "agent-billing", "agent-search"];
const CONTENTS: &[&str] = &[
    "deploy {n} finished",
    "invoice {n} is ready for review",
    "index rebuild {n} done, 0 errors",
    "can you summarise ticket #{n}?",
    "nightly report {n} attached",
];

/// Sends until the simulator stops; gaps are `peer_interval` ±50 %.
pub(super) async fn run(sim: Arc<Sim>) {
    let conversations: Vec<Uuid> = PEERS.iter().map(|_| Uuid::new_v4()).collect();
    let shutdown = sim.shutdown.clone();
    for n in 4501u64.. {
        let gap = sim.config.peer_interval.mul_f64(sim.between(0.5, 1.5));
        tokio::select! {
            () = sleep(sim.config.real(gap)) => {}
            () = stopped(shutdown.clone()) => return,
        }
        let peer = (n as usize) % PEERS.len();
        let content = CONTENTS[(n as usize) % CONTENTS.len()].replace("{n}", &n.to_string());
        sim.land(Msg {
            id: Uuid::new_v4(),
            conversation: conversations[peer],
            from: PEERS[peer].into(),
            to: sim.config.agent.clone(),
            content,
            created_at: Utc::now(),
            delivered_at: None,
        });
    }
}
