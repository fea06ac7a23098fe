//! `serve`: the simulator alone on 127.0.0.1, for curl, a browser or a real agent runtime.

use color_eyre::eyre::{Result, WrapErr};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use super::pipeline::sim_config;
use crate::cli::ServeArgs;
use crate::sim;

pub(super) async fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = sim_config(
        &args.sim,
        args.sim.scenario_of(0),
        &args.agent,
        &args.api_key,
    );
    let handle = sim::start(
        config.clone(),
        SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)),
    )
    .await
    .wrap_err_with(|| format!("could not listen on 127.0.0.1:{}", args.port))?;
    super::print_out(format!("{}\n", sim::banner(&handle, &config)));
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = super::terminated() => {}
    }
    handle.shutdown().await;
    Ok(ExitCode::SUCCESS)
}
