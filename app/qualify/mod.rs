//! Qualifying a real device: the hub plays a [`Plan`] of phases (forced codes, silence, an
//! outage, latency) against the device under test, and [`judge`] decides check by check what
//! the device did, from a [`Record`] of its connections and requests.

pub mod checks;
pub mod desk;
pub mod error;
pub mod judge;
pub mod judge_link;
pub mod picture;
pub mod plan;
pub mod plan_commands;
pub mod run;
pub mod stand;
pub mod words;

pub use checks::{CheckId, CheckResult, Evidence, Level, Verdict};
pub use desk::SentCommand;
pub use error::{QualifyError, Unsigned};
pub use judge::{
    CommandExchange, CommandReply, CommandStatus, Record, Seen, SeenRequest, judge, judge_so_far,
    pair_replies,
};
pub use judge_link::{SeenLink, SeenTls};
pub use picture::Picture;
pub use plan::{Answer, Network, Phase, Plan};
pub use plan_commands::PlanCommand;
pub use run::{Courier, Qualification, QualifyEvent, Steering};
pub use stand::Stand;
