//! Thing models, the registry of what the hub knows, and the one checker.
//!
//! Uses the protocol layer only: no files, no MQTT, no window.

mod check;
mod check_commands;
mod quick;
mod registry;
mod reply;
mod sample;
mod services;
mod thing_model;
mod value;
mod view;
mod wrong;

pub use check::{CheckReport, Finding, PointRef, SessionEffect, Severity, check};
pub use check_commands::check_output;
pub use quick::accepted;
pub use registry::{DEFAULT_MAX_PAYLOAD, Registry, RegistryDevice};
pub use reply::{CodeMeaning, ReplyFault, ReplyFinding, ReplyReading, read_reply};
pub use sample::{sample_data_value, sample_value};
pub use services::{CallType, DataPoint, Event, EventType, Service};
pub use thing_model::{
    ArrayItem, DataType, EnumDef, EnumKey, EnumKind, MeasurePoint, ModelError, StructItem,
    ThingModel, Unit,
};
pub use value::{
    Invalid, MAX_ARRAY_LENGTH, ValueIssue, Verdict, check_point_value, check_value,
    check_with_quality, describe,
};
pub use view::{CommandKind, CommandView, ElementView, EventView, RequestView, view};
pub use wrong::WrongKind;

#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod command_tests;
#[cfg(test)]
mod view_tests;
