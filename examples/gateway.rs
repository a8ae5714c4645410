//! A reference gateway for `thingbench qualify` and command fixtures: the sample workspace's
//! gw01 on rumqttc, which logs inv01 in after each connect, reports for itself and inv01 every
//! quarter second, back-fills what went unanswered by resume batch, reconnects with a 1.2 s
//! back-off, and obeys the platform's commands for both (set, get, `setPowerLimit`): a value set
//! shows in its next post.
//!
//! `cargo run --example gateway -- PORT [FLAW]` connects to 127.0.0.1:PORT; FLAW makes it
//! misbehave on purpose, to see its check fail: bad-signature, invalid, no-login-after-reconnect,
//! gap, no-backfill, reused-id, future, fast-retry, resends or takeover (uplink), or
//! ignores-sub-devices, answers-500, no-apply, no-outputs, wrong-id, wrong-topic, wrong-type or
//! silent (commands). The tests drive the same device.

#[allow(dead_code)]
#[path = "../tests/common/commands.rs"]
mod commands;
#[allow(dead_code)]
#[path = "../tests/common/device.rs"]
mod device;

use commands::CommandFlaw;
use device::{Flaw, RunningDevice};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(port) = args.next().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: cargo run --example gateway -- PORT [FLAW]");
        return std::process::ExitCode::from(2);
    };
    let (flaw, command_flaw) = match args.next().as_deref() {
        None => (Flaw::None, CommandFlaw::None),
        Some(name) => match (Flaw::from_name(name), CommandFlaw::from_name(name)) {
            (Some(flaw), _) => (flaw, CommandFlaw::None),
            (None, Some(command_flaw)) => (Flaw::None, command_flaw),
            (None, None) => {
                eprintln!("gateway: no flaw {name:?}; see the top of examples/gateway.rs");
                return std::process::ExitCode::from(2);
            }
        },
    };
    eprintln!(
        "gateway: gwPk/gw01 connecting to 127.0.0.1:{port} ({flaw:?}, {command_flaw:?}); Ctrl-C stops"
    );
    let _device = RunningDevice::start_with(port, flaw, command_flaw);
    loop {
        std::thread::park();
    }
}
