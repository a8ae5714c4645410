//! Helpers shared by the integration tests: free ports, and thingbench processes started once
//! they say they are ready and stopped when dropped.

// Each test crate uses some of these, not all.
#![allow(dead_code)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The project's root, where `fixtures/` is.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
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

fn copy_dir(from: &Path, to: &Path) {
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
