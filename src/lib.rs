//! inboxtop: a terminal monitor for an agent's inbox (SSE stream + polled inbox).
//!
//! Data flows one way: sources → [`observation::Observation`] → pure [`monitor::Monitor`] → views.

pub(crate) mod app;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod exporter;
pub(crate) mod fleet;
pub mod logging;
pub mod monitor;
pub mod observation;
pub mod record;
pub(crate) mod report;
pub(crate) mod sanitize;
pub mod secret;
pub mod sim;
pub mod source;
pub mod terminal;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod ui;
pub mod view;
pub mod wire;
