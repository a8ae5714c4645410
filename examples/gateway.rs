//! A reference gateway for `thingbench qualify`: the sample workspace's gw01 on rumqttc, which
//! logs inv01 in after each connect, reports every quarter second, back-fills what went
//! unanswered by resume batch, and reconnects with a 1.2 s back-off.
//!
//! `cargo run --example gateway -- PORT [FLAW]` connects to 127.0.0.1:PORT; FLAW makes it
//! misbehave on purpose, to see its check fail: bad-signature, invalid, no-login-after-reconnect,
//! gap, no-backfill, reused-id, future, fast-retry or resends. The tests drive the same device.

#[allow(dead_code)]
#[path = "../tests/common/device.rs"]
mod device;

use device::{Flaw, RunningDevice};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(port) = args.next().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: cargo run --example gateway -- PORT [FLAW]");
        return std::process::ExitCode::from(2);
    };
    let flaw = match args.next().as_deref() {
        None => Flaw::None,
        Some(name) => match Flaw::from_name(name) {
            Some(flaw) => flaw,
            None => {
                eprintln!("gateway: no flaw {name:?}; see the top of examples/gateway.rs");
                return std::process::ExitCode::from(2);
            }
        },
    };
    eprintln!("gateway: gwPk/gw01 connecting to 127.0.0.1:{port} ({flaw:?}); Ctrl-C stops");
    let _device = RunningDevice::start(port, flaw);
    loop {
        std::thread::park();
    }
}
