//! Helpers shared by the integration tests: free ports, and thingbench processes started once
//! they say they are ready and stopped when dropped.

// Each test crate uses some of these, not all.
#![allow(dead_code)]

pub mod commands;
pub mod device;
pub mod link;
pub mod platform;
pub mod window;

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The project's root, where `fixtures/` is.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The sample fixtures a run replays with no device connected: the files directly in
/// `fixtures/messages` (its `commands/` folder holds those a device must answer), as paths
/// from the project root, in name order.
pub fn sample_fixtures() -> Vec<String> {
    json_files_in("fixtures/messages")
}

/// The sample's command fixtures, which a device must answer.
pub fn sample_commands() -> Vec<String> {
    json_files_in("fixtures/messages/commands")
}

/// Every sample fixture as `run fixtures/messages` finds them, commands last.
pub fn all_sample_fixtures() -> Vec<String> {
    let mut all = sample_fixtures();
    all.extend(sample_commands());
    all
}

/// The `*.json` files directly in `folder` (from the project root), as paths from the root.
fn json_files_in(folder: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(folder))
        .expect("the folder")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".json"))
        .map(|name| format!("{folder}/{name}"))
        .collect();
    files.sort();
    files
}

/// A loopback port nobody listens on now, for a process a test starts to bind.
///
/// The port is freed again before that process binds it, so two things could take it first,
/// and neither may: another test of this process (a port is never handed out twice here), and
/// the source port of any outgoing connection on the machine, which the kernel picks from its
/// ephemeral range (`net.ipv4.ip_local_port_range`, 32768–60999 by default). The ports handed
/// out lie below that range.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static HANDED_OUT: AtomicU32 = AtomicU32::new(0);
    let first_ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .clamp(12_000, 65_535);
    let (low, span) = (first_ephemeral - 10_000, 10_000);
    // Test binaries run one after another, each counting from its own place.
    let start = std::process::id() % span;
    for _ in 0..span {
        let port = low + (start + HANDED_OUT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(port).expect("a port number");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between {low} and {}", low + span)
}

/// A child process, killed and reaped when dropped, so that a failing test leaves none behind.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `thingbench ARGS`, run from the project root, once the first line it writes to stderr
/// contains `ready`.
pub fn spawn_ready(args: &[&str], ready: &str) -> Killed {
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
    let mut line = String::new();
    std::io::BufReader::new(stderr)
        .read_line(&mut line)
        .expect("thingbench output");
    assert!(line.contains(ready), "thingbench {args:?} said: {line}");
    child
}

/// `thingbench serve` on `port` with the sample workspace, once its broker and hub are up.
pub fn serve_on(port: u16) -> Killed {
    let listen = format!("127.0.0.1:{port}");
    spawn_ready(
        &["serve", "--listen", &listen, "--workspace", "fixtures"],
        "with the reference hub",
    )
}

/// `thingbench hub` on the broker at `url`, once it is subscribed.
pub fn start_hub(url: &str) -> Killed {
    spawn_ready(
        &["hub", "--broker", url, "--workspace", "fixtures"],
        "reference hub",
    )
}

/// A copy of the sample workspace to change freely.
pub fn copy_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&root().join("fixtures"), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A test's peer (mosquitto, openssl, the Python SDK) is not on this machine. With
/// `THINGBENCH_REQUIRE_PEERS=1` (`.ci/run` sets it) the test fails, naming what is missing;
/// without, it says in one line that it was skipped and why.
pub fn missing_peer(what: &str, install: &str) {
    let required = std::env::var("THINGBENCH_REQUIRE_PEERS").is_ok_and(|v| v.trim() == "1");
    assert!(
        !required,
        "{what} is missing and THINGBENCH_REQUIRE_PEERS=1 requires it: {install}"
    );
    // Straight to the process's stderr: the test harness would swallow `eprintln!` of a test
    // that passes, and this line must be seen.
    let line = format!(
        "SKIPPED: {what} is missing ({install}); THINGBENCH_REQUIRE_PEERS=1 makes this a failure\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// Sends SIGINT to process `pid`, as Ctrl-C in its terminal would.
pub fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill (procps) runs");
    assert!(status.success(), "kill -INT {pid} failed");
}

/// A `thingbench qualify` on a proxy port of its own choosing (`--listen 127.0.0.1:0`: a port
/// picked here and freed again could be taken by another test before qualify binds it).
pub struct Qualifying {
    pub child: Killed,
    pub stdout: LineReader,
    pub stderr: LineReader,
    /// Where the device is to connect, as qualify said.
    pub port: u16,
}

/// Starts `thingbench qualify PLAN --listen 127.0.0.1:0 ARGS...` in `dir` and waits up to
/// `wait` for it to say where the device connects.
pub fn start_qualify(plan: &Path, args: &[String], dir: &Path, wait: Duration) -> Qualifying {
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_thingbench"))
            .arg("qualify")
            .arg(plan)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thingbench qualify starts"),
    );
    let stdout = LineReader::new(child.0.stdout.take().expect("stdout"));
    let mut stderr = LineReader::new(child.0.stderr.take().expect("stderr"));
    let line = stderr.wait_for(wait, |l| l.contains("connect the device to"));
    let port = line
        .split("connect the device to mqtt://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Qualifying {
        child,
        stdout,
        stderr,
        port,
    }
}

/// The lines a child writes to one of its pipes, read on a thread as they come.
pub struct LineReader {
    lines: std::sync::mpsc::Receiver<String>,
    /// Every line taken so far.
    pub seen: Vec<String>,
}

impl LineReader {
    /// Reads `pipe` (a child's stdout or stderr) line by line until it closes.
    pub fn new(pipe: impl std::io::Read + Send + 'static) -> Self {
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `within` for a line that `wanted` accepts, and returns it.
    pub fn wait_for(
        &mut self,
        within: std::time::Duration,
        mut wanted: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no such line within {within:?}; the lines so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every line until the pipe closes (the child ended), within `within`.
    pub fn rest(&mut self, within: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + within;
        loop {
            let remaining = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => self.seen.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return self.seen.clone(),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                    "the pipe stayed open for {within:?}; the lines so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

/// mosquitto's binary on `PATH`.
pub fn mosquitto_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
}

/// A stock mosquitto on a port of its own, with its configuration in a folder of its own;
/// stopped and removed when dropped.
pub struct Mosquitto {
    pub port: u16,
    /// `mqtt://127.0.0.1:PORT`.
    pub url: String,
    _broker: Killed,
    _dir: tempfile::TempDir,
}

/// A stock mosquitto, or `None` (after [`missing_peer`]) when it is not installed.
pub fn stock_mosquitto() -> Option<Mosquitto> {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let broker = start_mosquitto_configured(dir.path(), port, None, "")?;
    Some(Mosquitto {
        port,
        url: format!("mqtt://127.0.0.1:{port}"),
        _broker: broker,
        _dir: dir,
    })
}

/// mosquitto on `port` with `extra` lines in its configuration, plus a TLS listener `(port,
/// certificate folder)` when given; `None` (after [`missing_peer`]) when it is not installed.
pub fn start_mosquitto_configured(
    dir: &Path,
    port: u16,
    tls: Option<(u16, &Path)>,
    extra: &str,
) -> Option<Killed> {
    let Some(binary) = mosquitto_binary() else {
        missing_peer("mosquitto", "apt-get install mosquitto");
        return None;
    };
    // `user root`: as root, mosquitto would otherwise drop to a user that cannot read our files.
    let mut config = format!(
        "user root\nallow_anonymous true\n{extra}message_size_limit 0\npersistence false\nlistener {port} 127.0.0.1\n"
    );
    let mut ports = vec![port];
    if let Some((tls_port, certs)) = tls {
        let d = certs.display();
        config.push_str(&format!(
            "listener {tls_port} 127.0.0.1\ncafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n"
        ));
        ports.push(tls_port);
    }
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, config).expect("write config");
    let child = Killed(
        Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto"),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    for port in ports {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Some(child)
}
