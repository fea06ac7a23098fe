//! What the integration tests that run the binary share.

use std::process::Command;

/// The `inboxtop` binary, isolated from the developer's own config file, key and server.
pub fn inboxtop() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inboxtop"));
    cmd.env("XDG_CONFIG_HOME", "/nonexistent-inboxtop-test")
        .env_remove("INBOXTOP_API_KEY")
        .env_remove("INBOXTOP_BASE_URL")
        .env_remove("INBOXTOP_AGENT")
        .env_remove("INBOXTOP_CONFIG");
    cmd
}
