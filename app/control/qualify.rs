//! Qualification in the window: the workspace's plans, one run at a time with its proxy, broker
//! and steered hub, the phase in force, the plan's commands and where each stands, the verdicts
//! and the picture of the run as they form, and the device's traffic in the timeline marked
//! `dut`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::history::{NewRow, RowKind, Timeline};
use crate::model::Registry;
use crate::protocol::{DeviceId, EpochMs, parse_reply, parse_topic};
use crate::qualify::{
    CheckResult, CommandStatus, Picture, Plan, QualifyEvent, Record, Seen, Stand, judge,
    judge_so_far, pair_replies,
};
use crate::transport::{BrokerUrl, TlsOptions};
use crate::workspace::{FileError, LoginState, Workspace, WorkspaceFeed, json_files_under};

use super::Wake;
use super::notice::Notice;

/// How often the verdicts are judged again while a plan runs.
const JUDGE_EVERY: Duration = Duration::from_millis(500);

/// How long a request of the device may wait for its answer before its row says it got none.
const ANSWER_WAIT: Duration = Duration::from_secs(2);

/// One plan file of the workspace: the plan, or why it does not load.
pub struct PlanFile {
    pub path: PathBuf,
    pub plan: Result<Plan, FileError>,
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
    /// The plan's commands, in the order they fall due, and where each stands.
    pub commands: Vec<CommandLine>,
    /// The picture of the run so far.
    pub picture: Option<Picture>,
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

/// One of the plan's commands as the tab lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandLine {
    /// `phases[1].commands[0]`.
    pub place: String,
    /// When it falls due on the plan clock.
    pub due: Duration,
    pub target: DeviceId,
    /// `set Power = 3.5`.
    pub asked: String,
    pub status: CommandStatus,
    /// The reply's findings, in the checker's words.
    pub findings: Vec<String>,
    /// Answered once, with a fitting code and nothing wrong in the reply.
    pub good: bool,
}

impl CommandLine {
    /// The plan's commands before any is sent.
    pub fn of_plan(plan: &Plan) -> Vec<Self> {
        plan.commands()
            .into_iter()
            .map(|(phase, index, command, due)| Self {
                place: format!("phases[{phase}].commands[{index}]"),
                due,
                target: command.target().clone(),
                asked: command.describe(),
                status: CommandStatus::Waiting,
                findings: Vec::new(),
                good: false,
            })
            .collect()
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
                let plan = Plan::load(&path, workspace);
                PlanFile { path, plan }
            })
            .collect();
        self.selected = self.selected.min(self.plans.len().saturating_sub(1));
    }

    /// The file name of the plan chosen, to choose it again after a restart.
    pub fn selected_name(&self) -> Option<&str> {
        self.plans
            .get(self.selected)
            .and_then(|plan| plan.path.file_name())
            .and_then(|name| name.to_str())
    }

    /// Chooses the plan whose file is named `name`, if there is one.
    pub fn select_named(&mut self, name: &str) {
        if let Some(at) = self
            .plans
            .iter()
            .position(|plan| plan.path.file_name().and_then(|n| n.to_str()) == Some(name))
        {
            self.selected = at;
        }
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
        let plan = file
            .plan
            .clone()
            .map_err(|e| Notice::error(e.to_string()))?;
        if plan.phases.iter().any(|phase| phase.tls.is_some()) {
            // Without TLS towards the device, no bad certificate could be shown.
            return Err(Notice::error(format!(
                "{}: its phases show bad TLS certificates, which the Qualify tab cannot yet; run it with `thingbench qualify {} --tls`",
                file.path.display(),
                file.path.display()
            )));
        }
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
        let commands = CommandLine::of_plan(&plan);
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
            commands,
            picture: None,
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
    pub fn export_report(&self, workspace: &Workspace, path: &Path) -> Result<(), Notice> {
        let run = self
            .run
            .as_ref()
            .filter(|r| r.state == RunState::Done)
            .ok_or_else(|| Notice::error("no finished qualification to report on"))?;
        let record = run
            .record
            .as_ref()
            .ok_or_else(|| Notice::error("the run saw nothing"))?;
        let mut header = crate::report::Header::now(
            &format!("qualification: {}", run.plan.name),
            &workspace.root,
            &format!("the device on mqtt://{}", run.listen),
        );
        header.environment.clone_from(&workspace.env);
        crate::report::Report::of_qualification(header, workspace, &run.plan, &run.results, record)
            .write(path)
            .map_err(|e| Notice::error(e.to_string()))
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
            match event {
                QualifyEvent::Started => {
                    run.state = RunState::Running;
                    notice = Some(Notice::info("the device connected: the plan runs"));
                }
                QualifyEvent::Phase { index } => run.phase = Some(index),
                QualifyEvent::Finished => finished = true,
                _ => {}
            }
            let Some(line) = crate::qualify::words::event_line(&run.plan, &event, at) else {
                continue;
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
    let now = (!all).then_some(now_ms);
    let exchanges = pair_replies(&run.registry, &record);
    run.commands = exchanges
        .iter()
        .map(|exchange| {
            let command = &exchange.command;
            CommandLine {
                place: command.place(),
                due: Duration::from_millis(command.due_ms),
                target: command.target.clone(),
                asked: run
                    .plan
                    .phases
                    .get(command.phase)
                    .and_then(|p| p.commands.get(command.index))
                    .map_or_else(|| command.topic.clone(), |c| c.describe()),
                status: exchange.status(&run.plan, now),
                findings: exchange.findings(),
                good: exchange.answered_well(),
            }
        })
        .collect();
    run.picture = Some(Picture::of_run(
        &run.plan,
        &run.registry,
        &record,
        &run.results,
        now,
    ));
    let wait_ms = u64::try_from(ANSWER_WAIT.as_millis()).unwrap_or(u64::MAX);
    for seen in record.seen.iter().skip(run.shown) {
        let Seen::Request(request) = seen else {
            run.shown += 1;
            continue;
        };
        // The hub answers no reply to a command: it passes by.
        let reply = parse_topic(&request.topic).is_some_and(|t| t.method.is_command());
        if request.answered.is_none() && !reply && !all && request.at_ms + wait_ms > now_ms {
            // Its answer may still come.
            break;
        }
        let at = EpochMs(record.start_epoch_ms + i64::try_from(request.at_ms).unwrap_or(0));
        let device = crate::model::view(&request.topic, &request.payload)
            .first_device()
            .cloned();
        let phase = run
            .plan
            .phase_at(Duration::from_millis(request.at_ms))
            .map_or(String::new(), |(_, p, _)| format!("phase \"{}\"", p.name));
        let note = match request.answered {
            Some(_) => phase,
            None if reply => format!("{phase}: the device's reply to a command"),
            None => format!("{phase}: no reply"),
        };
        let code = if reply {
            parse_reply(&request.payload).ok().map(|r| r.code)
        } else {
            request.answered
        };
        let row = timeline.push(
            at,
            RowKind::Dut,
            NewRow {
                device: device.as_ref(),
                topic: &request.topic,
                payload: &request.payload,
                code,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workspace::testing::sample;

    #[test]
    fn a_plan_that_shows_bad_certificates_is_refused_with_what_to_run_instead() {
        let ws = sample();
        let mut qualify = QualifyCtl::default();
        qualify.load_plans(&ws);
        qualify.select_named("tls.json");
        assert_eq!(qualify.selected_name(), Some("tls.json"));
        let feed = WorkspaceFeed::fixed(std::sync::Arc::new(ws));
        let wake: Wake = std::sync::Arc::new(|| {});
        let refused = qualify
            .start(feed, None, TlsOptions::default(), &wake)
            .expect_err("no TLS in the tab");
        assert!(
            refused.text.contains("tls.json")
                && refused.text.contains("thingbench qualify")
                && refused.text.contains("--tls"),
            "{refused:?}"
        );
        assert!(!qualify.running());
    }
}
