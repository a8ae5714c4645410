//! A suite runner on its own thread, for the window: it owns the broker, hub and session, and
//! runs fixtures with the same [`Runner`] as `thingbench run`, reporting each result.

use std::path::PathBuf;
use std::sync::mpsc;

use crate::workspace::Workspace;

use super::{CaseResult, Runner, load_fixture};

/// What the window asks of the worker.
#[derive(Debug)]
pub enum WorkerCommand {
    /// Replay these fixture files, in order.
    Run(Vec<PathBuf>),
}

/// What the worker reports.
#[derive(Debug)]
pub enum WorkerEvent {
    /// Connected to this broker as the workspace's gateway.
    Ready {
        broker: String,
    },
    /// Could not start or connect; nothing will run.
    Failed(String),
    /// A fixture could not be loaded.
    BadFixture {
        path: PathBuf,
        error: String,
    },
    Result(CaseResult),
}

/// Starts the worker: the embedded broker and hub unless `broker` is given, then a session.
pub fn start_worker(
    workspace_root: PathBuf,
    broker: Option<String>,
    wake: Box<dyn Fn() + Send>,
) -> (mpsc::Sender<WorkerCommand>, mpsc::Receiver<WorkerEvent>) {
    let (cmd_tx, cmd_rx) = mpsc::channel();
    let (event_tx, event_rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("thingbench-worker".into())
        .spawn(move || {
            let send = |event: WorkerEvent| {
                let _ = event_tx.send(event);
                wake();
            };
            let ws = match Workspace::load(&workspace_root) {
                Ok(ws) => ws,
                Err(e) => return send(WorkerEvent::Failed(e.to_string())),
            };
            let connected = (|| {
                let (embedded, url) = super::connect::broker_or_embedded(&ws, broker.as_deref())?;
                let session =
                    super::connect::gateway_session(&ws, url.clone(), Default::default())?;
                Ok::<_, String>((embedded, url, session))
            })();
            let (_embedded, url, session) = match connected {
                Ok(parts) => parts,
                Err(e) => return send(WorkerEvent::Failed(e)),
            };
            send(WorkerEvent::Ready {
                broker: url.to_string(),
            });
            let mut runner = Runner::new(&ws, &session);
            for command in cmd_rx {
                let WorkerCommand::Run(paths) = command;
                for path in paths {
                    match load_fixture(&path) {
                        Ok(fixture) => {
                            send(WorkerEvent::Result(runner.run_fixture(&path, &fixture)))
                        }
                        Err(error) => send(WorkerEvent::BadFixture { path, error }),
                    }
                }
            }
        });
    if let Err(e) = spawned {
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(WorkerEvent::Failed(format!(
            "cannot start the worker thread: {e}"
        )));
        return (cmd_tx, rx);
    }
    (cmd_tx, event_rx)
}
