//! The checks a qualification judges, their ids and levels, and what a verdict carries.

/// A check, by its stable id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    Connects,
    Conforms,
    LogsInFirst,
    ReportsEveryPeriod,
    Backfills,
    IdsUnique,
    TimesSane,
    BacksOff,
    GivesUpOnRejects,
    // Commands to the device (design.md, "Qualify: commands, TLS, authentication, keep-alive").
    AnswersCommands,
    ReplyCodes,
    AppliesSet,
    OutputsMatch,
    // The device's link (app/qualify/judge_link.rs).
    KeepsAlive,
    RefusesBadCertificates,
}

impl CheckId {
    /// Every check, in the order they are listed.
    pub const ALL: [Self; 15] = [
        Self::Connects,
        Self::Conforms,
        Self::LogsInFirst,
        Self::ReportsEveryPeriod,
        Self::Backfills,
        Self::IdsUnique,
        Self::TimesSane,
        Self::BacksOff,
        Self::GivesUpOnRejects,
        Self::AnswersCommands,
        Self::ReplyCodes,
        Self::AppliesSet,
        Self::OutputsMatch,
        Self::KeepsAlive,
        Self::RefusesBadCertificates,
    ];

    /// The id plans, reports and JUnit use.
    pub fn id(self) -> &'static str {
        match self {
            Self::Connects => "connects",
            Self::Conforms => "conforms",
            Self::LogsInFirst => "logs-in-first",
            Self::ReportsEveryPeriod => "reports-every-period",
            Self::Backfills => "backfills",
            Self::IdsUnique => "ids-unique",
            Self::TimesSane => "times-sane",
            Self::BacksOff => "backs-off",
            Self::GivesUpOnRejects => "gives-up-on-rejects",
            Self::AnswersCommands => "answers-commands",
            Self::ReplyCodes => "reply-codes",
            Self::AppliesSet => "applies-set",
            Self::OutputsMatch => "outputs-match",
            Self::KeepsAlive => "keeps-alive",
            Self::RefusesBadCertificates => "refuses-bad-certificates",
        }
    }

    /// The check with this id.
    pub fn from_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.id() == id)
    }

    /// Every id, comma-separated, for an error message.
    pub fn id_list() -> String {
        Self::ALL.map(Self::id).join(", ")
    }

    /// Its level unless the plan says otherwise.
    pub fn default_level(self) -> Level {
        match self {
            Self::Connects
            | Self::Conforms
            | Self::LogsInFirst
            | Self::AnswersCommands
            | Self::RefusesBadCertificates => Level::Must,
            _ => Level::Should,
        }
    }

    /// What passes, in one sentence.
    pub fn rule(self) -> &'static str {
        match self {
            Self::Connects => "every CONNECT of the device carries a valid signature",
            Self::Conforms => {
                "every request is valid by the hub's rules, judged as if every sub-device were logged in"
            }
            Self::LogsInFirst => {
                "no element names a sub-device that is not logged in when the request arrives, after every reconnect too"
            }
            Self::ReportsEveryPeriod => {
                "in normal phases, each reporting device posts at least every 1.5 x periodS, counted from its first post after each connect"
            }
            Self::Backfills => {
                "for every slot of the silent and outage phases, each device that reported before the phase posts an element whose time falls in that slot, after the phase and before the plan ends"
            }
            Self::IdsUnique => "no two requests on one connection share an id",
            Self::TimesSane => {
                "no element time more than 5 s ahead of the hub's clock, and per device the times of batch and single posts never go back (back-fill and resume batch aside)"
            }
            Self::BacksOff => {
                "while the network is down, connection attempts average at least 1 s apart"
            }
            Self::GivesUpOnRejects => {
                "a request answered with a 12xx code is not sent again with the same params on the same topic more than 3 times"
            }
            Self::AnswersCommands => {
                "every delivered command gets exactly one reply within commandTimeoutS, on its topic + _reply, echoing its id, with an integer code"
            }
            Self::ReplyCodes => {
                "a valid command is answered 200 or the device's own code (2000 and above), never 1101, 1102, 500 or another code below 2000; a command marked invalid is answered 2000 or above"
            }
            Self::AppliesSet => {
                "after a set answered 200, the device's first post carrying that point for that device, timed after the reply, holds the value set and comes within 2 x periodS + 1 s"
            }
            Self::OutputsMatch => {
                "a get answered 200 carries every point asked for, typed per the model; an invoke answered 200 carries every output of the service, typed, and no other key"
            }
            Self::KeepsAlive => {
                "every CONNECT names a keep-alive above 0, and while connected the device sends some packet at least every 1.5 x keep-alive (MQTT 3.1.1, 3.1.2.10)"
            }
            Self::RefusesBadCertificates => {
                "in a phase with a tls fault, no CONNECT arrives over a TLS session that showed the bad certificate"
            }
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// How much a check's failure counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A failure fails the qualification (exit 1).
    Must,
    /// A failure is reported, and the qualification still passes.
    Should,
    /// Not judged: listed as `n/a`.
    Off,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Self::Must => "must",
            Self::Should => "should",
            Self::Off => "off",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Must, Self::Should, Self::Off]
            .into_iter()
            .find(|l| l.name() == name)
    }
}

/// What a check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The plan never exercised it, or its level is `off`.
    NotApplicable,
    /// While the plan runs: not failed yet, and the device may still do what it asks.
    Pending,
}

impl Verdict {
    /// `pass`, `fail` or `n/a`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::NotApplicable => "n/a",
            Self::Pending => "pending",
        }
    }
}

/// One piece of evidence: what was seen (a request with its time and timeline row, a
/// connection attempt...) and what was expected of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Plan-clock milliseconds when it was seen.
    pub at_ms: u64,
    /// The timeline row of the request, when it has one.
    pub row: Option<usize>,
    /// What was seen and what was expected, in one sentence.
    pub text: String,
}

/// A check's verdict with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    pub check: CheckId,
    pub level: Level,
    pub verdict: Verdict,
    /// For a failure: what went wrong, first first (capped); for `n/a`: why.
    pub evidence: Vec<Evidence>,
    /// One sentence: why it passed, failed or did not apply.
    pub summary: String,
}

impl CheckResult {
    /// True when it failed and its level is `must`.
    pub fn fails_the_run(&self) -> bool {
        self.verdict == Verdict::Fail && self.level == Level::Must
    }

    /// One line for the terminal: `FAIL  must    backfills  2 slots never back-filled`.
    pub fn line(&self) -> String {
        format!(
            "{:<4}  {:<6}  {:<20}  {}",
            self.verdict.name().to_uppercase(),
            self.level.name(),
            self.check.id(),
            self.summary
        )
    }
}
