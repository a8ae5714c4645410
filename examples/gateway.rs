//! A reference gateway for `thingbench qualify` and command fixtures: the sample workspace's
//! gw01 on rumqttc, which logs inv01 in after each connect, reports for itself and inv01 every
//! quarter second, back-fills what went unanswered by resume batch, reconnects with a 1.2 s
//! back-off, and obeys the platform's commands for both (set, get, `setPowerLimit`): a value set
//! shows in its next post.
//!
//! `cargo run --example gateway -- PORT [FLAW] [--tls-ca FILE]` connects to 127.0.0.1:PORT,
//! over TLS trusting the CA in FILE when given (`thingbench qualify --tls` prints its path);
//! FLAW makes it misbehave on purpose, to see its check fail: bad-signature, invalid,
//! no-login-after-reconnect, gap, no-backfill, reused-id, future, fast-retry, resends or takeover
//! (uplink), ignores-sub-devices, answers-500, no-apply, no-outputs, wrong-id, wrong-topic,
//! wrong-type or silent (commands), keep-alive-zero, silent-link or accepts-any-certificate
//! (link). The tests drive the same device.

#[allow(dead_code)]
#[path = "../tests/common/commands.rs"]
mod commands;
#[allow(dead_code)]
#[path = "../tests/common/device.rs"]
mod device;
#[allow(dead_code)]
#[path = "../tests/common/link.rs"]
mod link;

use commands::CommandFlaw;
use device::{Flaw, RunningDevice};
use link::{Link, LinkFlaw};

fn main() -> std::process::ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut link = Link::default();
    if let Some(at) = args.iter().position(|a| a == "--tls-ca") {
        let Some(ca) = args.get(at + 1).cloned() else {
            eprintln!("gateway: --tls-ca needs the CA's PEM file");
            return std::process::ExitCode::from(2);
        };
        if !std::path::Path::new(&ca).is_file() {
            eprintln!("gateway: --tls-ca {ca}: no such file; give the CA that thingbench printed");
            return std::process::ExitCode::from(2);
        }
        link.tls_ca = Some(ca.into());
        args.drain(at..=at + 1);
    }
    let mut args = args.into_iter();
    let Some(port) = args.next().and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: cargo run --example gateway -- PORT [FLAW] [--tls-ca FILE]");
        return std::process::ExitCode::from(2);
    };
    let (flaw, command_flaw) = match args.next().as_deref() {
        None => (Flaw::None, CommandFlaw::None),
        Some(name) => match (
            Flaw::from_name(name),
            CommandFlaw::from_name(name),
            LinkFlaw::from_name(name),
        ) {
            (Some(flaw), _, _) => (flaw, CommandFlaw::None),
            (None, Some(command_flaw), _) => (Flaw::None, command_flaw),
            (None, None, Some(link_flaw)) => {
                link.flaw = link_flaw;
                (Flaw::None, CommandFlaw::None)
            }
            (None, None, None) => {
                eprintln!("gateway: no flaw {name:?}; see the top of examples/gateway.rs");
                return std::process::ExitCode::from(2);
            }
        },
    };
    let scheme = if link.tls_ca.is_some() {
        "mqtts"
    } else {
        "mqtt"
    };
    eprintln!(
        "gateway: gwPk/gw01 connecting to {scheme}://127.0.0.1:{port} ({flaw:?}, {command_flaw:?}, {:?}); Ctrl-C stops",
        link.flaw
    );
    let _device = RunningDevice::start_linked(port, flaw, command_flaw, link);
    loop {
        std::thread::park();
    }
}
