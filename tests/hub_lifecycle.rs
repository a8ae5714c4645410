//! `thingbench hub` and `serve` as long-running processes: the hub says when it loses its broker
//! and when it gets it back, and both stop cleanly, with one line and exit 0, on SIGTERM and
//! Ctrl-C. Every wait is for a line or an exit, with a deadline.

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Killed, free_port, root, serve_on};

/// A thingbench process whose stderr lines are read as they come.
struct Lines {
    child: Killed,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn spawn_lines(args: &[&str]) -> Lines {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .args(args)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thingbench starts"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Lines {
        child,
        lines,
        seen: Vec::new(),
    }
}

impl Lines {
    /// The first line from now on that contains `needle`, within `within`.
    fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {within:?}; said:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends `signal` (`TERM`, `INT`).
    fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args(["-s", signal, &self.child.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -s {signal}");
    }

    /// The exit code, once the process has ended, within `within`.
    fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.0.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "still running after {within:?}; said:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it with `signal` and checks that it says so in one line and exits 0.
    fn stops_cleanly_on(&mut self, signal: &str) {
        self.signal(signal);
        self.wait_for("stopped (SIGTERM or Ctrl-C)", Duration::from_secs(10));
        assert_eq!(
            self.exit_code(Duration::from_secs(10)),
            Some(0),
            "{}",
            self.seen.join("\n")
        );
    }
}

#[test]
fn the_hub_says_when_it_loses_its_broker_and_gets_it_back_and_stops_on_sigterm() {
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let broker = serve_on(port);
    let mut hub = spawn_lines(&["hub", "--broker", &url, "--workspace", "fixtures"]);
    hub.wait_for("reference hub", Duration::from_secs(20));
    drop(broker);
    let lost = hub.wait_for("lost the broker", Duration::from_secs(20));
    assert!(
        lost.contains(&format!("{url} closed the connection (the broker stopped")),
        "the reason, in words, names the broker: {lost}"
    );
    let _broker = serve_on(port);
    let back = hub.wait_for("again", Duration::from_secs(30));
    assert!(
        back.contains(&format!("connected to {url} again")),
        "{back}"
    );
    hub.stops_cleanly_on("TERM");
    let lost_lines = hub
        .seen
        .iter()
        .filter(|l| l.contains("lost the broker"))
        .count();
    assert_eq!(
        lost_lines,
        1,
        "one line for the outage, not one per retry:\n{}",
        hub.seen.join("\n")
    );
}

#[test]
fn the_hub_stops_cleanly_on_ctrl_c() {
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let _broker = serve_on(port);
    let mut hub = spawn_lines(&["hub", "--broker", &url, "--workspace", "fixtures"]);
    hub.wait_for("reference hub", Duration::from_secs(20));
    hub.stops_cleanly_on("INT");
}

#[test]
fn serve_stops_cleanly_on_sigterm_and_ctrl_c() {
    for signal in ["TERM", "INT"] {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut serve = spawn_lines(&["serve", "--listen", &listen, "--workspace", "fixtures"]);
        serve.wait_for("with the reference hub", Duration::from_secs(20));
        serve.stops_cleanly_on(signal);
    }
}
