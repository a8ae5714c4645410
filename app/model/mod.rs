//! Thing models, the registry of what the hub knows, and the one checker.
//!
//! Uses the protocol layer only: no files, no MQTT, no window.

mod check;
mod registry;
mod sample;
mod thing_model;
mod value;
mod wrong;

pub use check::{CheckReport, Finding, PointRef, SessionEffect, Severity, check};
pub use registry::{DEFAULT_MAX_PAYLOAD, Registry, RegistryDevice};
pub use sample::sample_value;
pub use thing_model::{
    ArrayItem, DataType, EnumDef, EnumKey, EnumKind, MeasurePoint, ModelError, StructItem,
    ThingModel, Unit,
};
pub use value::{
    Invalid, MAX_ARRAY_LENGTH, ValueIssue, Verdict, check_point_value, check_value, describe,
};
pub use wrong::WrongKind;

#[cfg(test)]
mod check_tests;
