//! `serve`: the simulator alone on 127.0.0.1, for curl, a browser or a real agent runtime. With
//! `--agents N` a fleet: one simulator per agent (a simulator speaks for one agent id), and what it
//! prints is the `[[agents]]` config that watches them, so an exporter can be pointed at a fleet
//! whose simulators it does not pay for.

use color_eyre::eyre::{Result, WrapErr, eyre};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use super::pipeline::sim_config;
use crate::cli::ServeArgs;
use crate::sim::{self, SimConfig, SimHandle};

pub(super) async fn run(args: ServeArgs) -> Result<ExitCode> {
    let count = args.sim.agents.max(1) as usize;
    if count > 1 {
        super::exporter::raise_open_files_limit();
    }
    let mut fleet = Vec::with_capacity(count);
    for i in 0..count {
        let agent = agent_id(&args.agent, i, count);
        let config = sim_config(&args.sim, args.sim.scenario_of(i), &agent, &args.api_key);
        let port = port_of(args.port, i)?;
        let handle = sim::start(
            config.clone(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        )
        .await
        .wrap_err_with(|| format!("could not listen on 127.0.0.1:{port}"))?;
        fleet.push((handle, config));
    }
    match fleet.as_slice() {
        [(handle, config)] => super::print_out(format!("{}\n", sim::banner(handle, config))),
        _ => super::print_out(agents_config(&fleet, &args.api_key)),
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = super::terminated() => {}
    }
    futures_util::future::join_all(fleet.into_iter().map(|(handle, _)| handle.shutdown())).await;
    Ok(ExitCode::SUCCESS)
}

/// `--agent` alone, or numbered in a fleet (`demo-0042`, zero-padded so the ids sort as numbers).
fn agent_id(agent: &str, i: usize, count: usize) -> String {
    if count == 1 {
        agent.to_owned()
    } else {
        format!("{agent}-{:0width$}", i + 1, width = count.to_string().len())
    }
}

/// Agent `i` listens on `--port` + `i`; with `--port 0` each on a free port.
fn port_of(first: u16, i: usize) -> Result<u16> {
    if first == 0 {
        return Ok(0);
    }
    u16::try_from(i)
        .ok()
        .and_then(|i| first.checked_add(i))
        .ok_or_else(|| eyre!("--port {first} leaves no port for agent {}", i + 1))
}

/// The config file that watches the fleet: one `[[agents]]` table per simulator. The key stays
/// out of the file, as every key should.
fn agents_config(fleet: &[(SimHandle, SimConfig)], key: &str) -> String {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut text = format!(
        "# inboxtop simulators: {} agents on 127.0.0.1, key {} (give it as INBOXTOP_API_KEY).\n\
         # This is a config file for `inboxtop --config FILE`. Ctrl-C stops them.\n",
        fleet.len(),
        quoted(key)
    );
    for (handle, config) in fleet {
        let _ = write!(
            text,
            "\n[[agents]]  # {}\nid = {}\nbase_url = {}\n",
            config.scenario,
            quoted(&config.agent),
            quoted(&handle.base_url())
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_numbers_its_agents_and_their_ports() {
        assert_eq!(agent_id("demo", 0, 1), "demo");
        assert_eq!(agent_id("demo", 0, 1000), "demo-0001");
        assert_eq!(agent_id("demo", 999, 1000), "demo-1000");
        assert_eq!(port_of(0, 7).unwrap(), 0);
        assert_eq!(port_of(8765, 2).unwrap(), 8767);
        assert!(port_of(65_535, 1).is_err());
    }
}
