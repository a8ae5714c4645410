//! Background work for the window: starting the embedded broker and hub, and a suite runner on
//! its own thread with its own session, running fixtures with the same [`Runner`] as
//! `thingbench run` and reporting each result.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::transport::{BrokerUrl, SessionConfig};
use crate::workspace::WorkspaceFeed;

use super::connect::{Embedded, connected_session, start_embedded};
use super::{CaseResult, Outcome, Runner, Traffic, Unloadable};

/// Starts the embedded broker and the hub of the workspace `feed` follows on a thread; the
/// answer comes on the returned channel, after which `wake` is called. The hub answers with
/// the newest workspace of `feed` at every request.
pub fn spawn_embedded(
    feed: WorkspaceFeed,
    wake: Box<dyn Fn() + Send>,
) -> mpsc::Receiver<Result<(Embedded, BrokerUrl), String>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("thingbench-embedded".into())
        .spawn({
            let tx = tx.clone();
            move || {
                let started = start_embedded(feed, None).map(|(broker, hub)| {
                    let url = broker.url();
                    (Some((broker, hub)), url)
                });
                let _ = tx.send(started);
                wake();
            }
        });
    if let Err(e) = spawned {
        let _ = tx.send(Err(format!(
            "cannot start the embedded broker's thread: {e}"
        )));
    }
    rx
}

/// What the window asks of the suite runner.
#[derive(Debug)]
pub enum WorkerCommand {
    /// Replay these fixture files, in order.
    Run(Vec<PathBuf>),
}

/// What the suite runner reports.
#[derive(Debug)]
pub enum WorkerEvent {
    /// Connected; fixtures can run.
    Ready,
    /// Could not connect; nothing will run.
    Failed(String),
    /// A fixture could not be loaded: a failed case of the run.
    BadFixture(Unloadable),
    /// A request of the run (a fixture's, or a login before it) is about to go out.
    Sent {
        topic: String,
        payload: Vec<u8>,
    },
    /// The request sent last ended; `reply` is the reply's payload, empty without one.
    Ended {
        outcome: Outcome,
        reply: Vec<u8>,
    },
    Result(CaseResult),
    /// A run ended, all its fixtures done or stopped.
    Finished {
        stopped: usize,
    },
    /// Something the run says once: an outage starting or ending, a hint about the broker or
    /// the hub.
    News(String),
}

/// The suite runner's handle: commands in, events out, and a stop switch.
pub struct Worker {
    pub commands: mpsc::Sender<WorkerCommand>,
    pub events: mpsc::Receiver<WorkerEvent>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    /// Stops the current run after the fixture in flight; what ran is kept.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Starts the suite runner with its own session, made from `config`. Before each fixture it
/// takes up the newest workspace of `feed`, keeping who it logged in.
pub fn start_worker(
    mut feed: WorkspaceFeed,
    config: SessionConfig,
    wake: Box<dyn Fn() + Send>,
) -> Worker {
    let (cmd_tx, cmd_rx) = mpsc::channel::<WorkerCommand>();
    let (event_tx, event_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_flag = stop.clone();
    let failed_tx = event_tx.clone();
    let spawned = std::thread::Builder::new()
        .name("thingbench-suite".into())
        .spawn(move || {
            let send = |event: WorkerEvent| {
                let _ = event_tx.send(event);
                wake();
            };
            let broker = config.broker.clone();
            let session = match connected_session(config) {
                Ok(session) => session,
                Err(e) => return send(WorkerEvent::Failed(e)),
            };
            send(WorkerEvent::Ready);
            let mut runner = Runner::new(feed.workspace(), &session)
                .observe(|traffic| {
                    send(match traffic {
                        Traffic::Sent { topic, payload } => WorkerEvent::Sent {
                            topic: topic.to_owned(),
                            payload: payload.to_vec(),
                        },
                        Traffic::Ended { outcome, reply } => WorkerEvent::Ended {
                            outcome: outcome.clone(),
                            reply: reply.to_vec(),
                        },
                    })
                })
                .tell(&broker, |line| send(WorkerEvent::News(line.to_owned())));
            for command in cmd_rx {
                let WorkerCommand::Run(paths) = command;
                stop_flag.store(false, Ordering::SeqCst);
                let mut stopped = 0;
                for path in paths {
                    if stop_flag.load(Ordering::SeqCst) {
                        stopped += 1;
                        continue;
                    }
                    if let Some(snapshot) = feed.newest() {
                        runner.set_workspace(snapshot.workspace);
                    }
                    send(match runner.run_file(&path) {
                        Ok(result) => WorkerEvent::Result(result),
                        Err(unloadable) => WorkerEvent::BadFixture(unloadable),
                    });
                }
                runner.finish();
                send(WorkerEvent::Finished { stopped });
            }
        });
    if let Err(e) = spawned {
        let _ = failed_tx.send(WorkerEvent::Failed(format!(
            "cannot start the suite thread: {e}"
        )));
    }
    Worker {
        commands: cmd_tx,
        events: event_rx,
        stop,
    }
}
