//! Qualification in the window: the workspace's plans, one run at a time with its proxy, broker
//! and steered hub, the phase in force, the verdicts as they form, and the device's traffic in
//! the timeline marked `dut`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::history::{NewRow, RowKind, Timeline};
use crate::model::Registry;
use crate::protocol::EpochMs;
use crate::qualify::{CheckResult, Plan, QualifyEvent, Record, Seen, Stand, judge, judge_so_far};
use crate::transport::{BrokerUrl, TlsOptions};
use crate::workspace::{LoginState, Workspace, WorkspaceFeed, json_files_under};

use super::Wake;
use super::notice::Notice;

/// How often the verdicts are judged again while a plan runs.
const JUDGE_EVERY: Duration = Duration::from_millis(500);

/// How long a request of the device may wait for its answer before its row says it got none.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// One plan file of the workspace: the plan, or why it does not load.
pub struct PlanFile {
    pub path: PathBuf,
    pub plan: Result<Plan, String>,
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Listening; the device has not connected yet.
    Waiting,
    /// The plan's clock runs.
    Running,
    /// The plan is over (or was stopped): the verdicts are final.
    Done,
}

/// A run of one plan.
pub struct QualifyRun {
    pub plan: Plan,
    /// `None` once the run is over.
    stand: Option<Stand>,
    /// Where the device must connect.
    pub listen: SocketAddr,
    pub state: RunState,
    /// The phase in force, by index.
    pub phase: Option<usize>,
    /// What happened, one line each: connects, disconnects, phases.
    pub log: Vec<String>,
    /// The verdicts, as they stand.
    pub results: Vec<CheckResult>,
    registry: Registry,
    /// What was seen, kept once the run is over (for the report).
    record: Option<Record>,
    judged: Option<Instant>,
    /// The device's requests shown in the timeline so far, and their rows.
    rows: Vec<usize>,
    /// Requests not shown yet because their answer may still come: index in the record.
    shown: usize,
    elapsed: Duration,
}

impl QualifyRun {
    /// How far the plan has got, 0 to 1.
    pub fn progress(&self) -> f32 {
        let total = self.plan.length().as_secs_f32();
        if total == 0.0 {
            return 1.0;
        }
        (self.elapsed.as_secs_f32() / total).clamp(0.0, 1.0)
    }

    /// Seconds since the plan's clock started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The timeline row of the device's request number `n` (1-based, as evidence names it).
    pub fn row_of(&self, n: usize) -> Option<usize> {
        n.checked_sub(1).and_then(|i| self.rows.get(i)).copied()
    }
}

/// The Qualify tab's state.
pub struct QualifyCtl {
    pub plans: Vec<PlanFile>,
    pub selected: usize,
    /// Where the proxy listens, as typed.
    pub listen: String,
    pub run: Option<QualifyRun>,
}

impl Default for QualifyCtl {
    fn default() -> Self {
        Self {
            plans: Vec::new(),
            selected: 0,
            listen: "127.0.0.1:1884".into(),
            run: None,
        }
    }
}

impl QualifyCtl {
    /// Reads the plans in `plans/` of `workspace`, each checked against it.
    pub fn load_plans(&mut self, workspace: &Workspace) {
        let dir = workspace.root.join("plans");
        self.plans = plan_files(&dir)
            .into_iter()
            .map(|path| {
                let plan = Plan::load(&path, workspace).map_err(|e| e.to_string());
                PlanFile { path, plan }
            })
            .collect();
        self.selected = self.selected.min(self.plans.len().saturating_sub(1));
    }

    /// True while a plan runs or waits for its device.
    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.state != RunState::Done)
    }

    /// Starts the selected plan: a broker of its own (or `broker`), the proxy on the typed
    /// address, and a hub following `feed`.
    pub fn start(
        &mut self,
        feed: WorkspaceFeed,
        broker: Option<BrokerUrl>,
        tls: TlsOptions,
        wake: &Wake,
    ) -> Result<(), Notice> {
        if self.running() {
            return Err(Notice::error("a plan is running: stop it first"));
        }
        let file = self
            .plans
            .get(self.selected)
            .ok_or_else(|| Notice::error("no plan: add one to the workspace's plans/ folder"))?;
        let plan = file.plan.clone().map_err(Notice::error)?;
        let listen: SocketAddr = self.listen.trim().parse().map_err(|_| {
            Notice::error(format!(
                "listen address {:?} is not host:port, such as 127.0.0.1:1884",
                self.listen
            ))
        })?;
        let registry = feed.workspace().registry(&LoginState::Only(Vec::new()));
        let wake = wake.clone();
        let stand = Stand::start(
            plan.clone(),
            feed,
            listen,
            broker,
            tls,
            Box::new(move || wake()),
        )
        .map_err(|e| Notice::error(format!("cannot qualify: {e}")))?;
        let listen = stand.qualification.listen;
        self.run = Some(QualifyRun {
            log: vec![format!(
                "waiting up to {} s for {} on mqtt://{listen}",
                plan.connect_within.as_secs(),
                plan.device
            )],
            plan,
            stand: Some(stand),
            listen,
            state: RunState::Waiting,
            phase: None,
            results: Vec::new(),
            registry,
            record: None,
            judged: None,
            rows: Vec::new(),
            shown: 0,
            elapsed: Duration::ZERO,
        });
        Ok(())
    }

    /// Writes the report of the finished run to `path`: every check with its evidence, and the
    /// coverage of the models by what the device sent.
    pub fn export_report(&self, workspace: &Workspace, path: &Path) -> Result<(), String> {
        let run = self
            .run
            .as_ref()
            .filter(|r| r.state == RunState::Done)
            .ok_or("no finished qualification to report on")?;
        let record = run.record.as_ref().ok_or("the run saw nothing")?;
        let mut header = crate::report::Header::now(
            &format!("qualification: {}", run.plan.name),
            &workspace.root,
            &format!("the device on mqtt://{}", run.listen),
        );
        header.environment.clone_from(&workspace.env);
        crate::report::Report::of_qualification(header, workspace, &run.plan, &run.results, record)
            .write(path)
    }

    /// Stops the run; what was seen is judged.
    pub fn stop(&mut self, timeline: &mut Timeline) {
        if let Some(run) = &mut self.run
            && run.state != RunState::Done
        {
            run.log.push("stopped".into());
            finish(run, timeline);
        }
    }

    /// Takes the run's news: the log, the phase, the verdicts, the device's rows. Returns what
    /// the status line should say.
    pub fn poll(&mut self, timeline: &mut Timeline) -> Option<Notice> {
        let run = self.run.as_mut()?;
        let stand = run.stand.as_ref()?;
        let mut notice = None;
        let events: Vec<QualifyEvent> = stand.qualification.events.try_iter().collect();
        run.elapsed = stand.qualification.steering.elapsed().unwrap_or_default();
        let at = run.elapsed.as_secs_f64();
        let mut finished = false;
        for event in events {
            let line = match event {
                QualifyEvent::Started => {
                    run.state = RunState::Running;
                    notice = Some(Notice::info("the device connected: the plan runs"));
                    continue;
                }
                QualifyEvent::Phase { index } => {
                    run.phase = Some(index);
                    let Some(phase) = run.plan.phases.get(index) else {
                        continue;
                    };
                    format!(
                        "{at:6.1} s  phase {} \"{}\" ({})",
                        index + 1,
                        phase.name,
                        phase.describe()
                    )
                }
                QualifyEvent::Connected { conn } => {
                    format!("{at:6.1} s  device connected ({conn})")
                }
                QualifyEvent::Refused { conn, why } => {
                    format!("{at:6.1} s  CONNECT refused ({conn}): {why}")
                }
                QualifyEvent::Disconnected {
                    conn,
                    departed: true,
                } => {
                    format!("{at:6.1} s  device disconnected ({conn})")
                }
                QualifyEvent::Disconnected {
                    conn,
                    departed: false,
                } => {
                    format!("{at:6.1} s  connection {conn} ended; another is open")
                }
                QualifyEvent::Door { words } => format!("{at:6.1} s  {words}"),
                QualifyEvent::Attempt => format!("{at:6.1} s  attempt while down: closed"),
                QualifyEvent::Finished => {
                    finished = true;
                    format!("{at:6.1} s  the plan is over")
                }
            };
            run.log.push(line);
        }
        if run.state == RunState::Waiting {
            let waited = run.stand.as_ref().map(|s| s.qualification.since_start());
            if waited.is_some_and(|w| w > run.plan.connect_within) {
                run.log.push(format!(
                    "the device never connected within {} s",
                    run.plan.connect_within.as_secs()
                ));
                notice = Some(Notice::error(format!(
                    "qualify: the device never connected to mqtt://{} within {} s",
                    run.listen,
                    run.plan.connect_within.as_secs()
                )));
                finish(run, timeline);
                return notice;
            }
        }
        if finished {
            finish(run, timeline);
            let failed = run.results.iter().filter(|r| r.fails_the_run()).count();
            return Some(if failed == 0 {
                Notice::info("qualification over: no MUST check failed")
            } else {
                Notice::error(format!("qualification over: {failed} MUST check(s) failed"))
            });
        }
        if run.state == RunState::Running && run.judged.is_none_or(|at| at.elapsed() >= JUDGE_EVERY)
        {
            refresh(run, timeline, false);
        }
        notice
    }
}

/// Judges again and shows the device's new requests (all of them when `all`).
fn refresh(run: &mut QualifyRun, timeline: &mut Timeline, all: bool) {
    let Some(stand) = &run.stand else { return };
    let record = stand.qualification.steering.record();
    if all {
        run.record = Some(record.clone());
    }
    let now_ms = u64::try_from(run.elapsed.as_millis()).unwrap_or(u64::MAX);
    run.results = if all {
        judge(&run.plan, &run.registry, &record)
    } else {
        judge_so_far(&run.plan, &run.registry, &record, now_ms)
    };
    run.judged = Some(Instant::now());
    let wait_ms = u64::try_from(ANSWER_WAIT.as_millis()).unwrap_or(u64::MAX);
    for seen in record.seen.iter().skip(run.shown) {
        let Seen::Request(request) = seen else {
            run.shown += 1;
            continue;
        };
        if request.answered.is_none() && !all && request.at_ms + wait_ms > now_ms {
            // Its answer may still come.
            break;
        }
        let at = EpochMs(record.start_epoch_ms + i64::try_from(request.at_ms).unwrap_or(0));
        let device = crate::runner::watch::first_device(&request.topic, &request.payload);
        let phase = run
            .plan
            .phase_at(Duration::from_millis(request.at_ms))
            .map_or(String::new(), |(_, p, _)| format!("phase \"{}\"", p.name));
        let note = match request.answered {
            Some(_) => phase,
            None => format!("{phase}: no reply"),
        };
        let row = timeline.push(
            at,
            RowKind::Dut,
            NewRow {
                device: device.as_ref(),
                topic: &request.topic,
                payload: &request.payload,
                code: request.answered,
                note: &note,
                ..NewRow::default()
            },
        );
        run.rows.push(row);
        run.shown += 1;
    }
}

/// Ends a run: final verdicts, every request in the timeline, the proxy and broker stopped.
fn finish(run: &mut QualifyRun, timeline: &mut Timeline) {
    refresh(run, timeline, true);
    run.state = RunState::Done;
    if let Some(mut stand) = run.stand.take() {
        stand.stop();
    }
}

/// The `*.json` files of `dir`, in name order; none when it does not exist.
fn plan_files(dir: &Path) -> Vec<PathBuf> {
    if !dir.is_dir() {
        return Vec::new();
    }
    json_files_under(dir).files
}
