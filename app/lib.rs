//! thingbench: a test workbench for the EnOS-style device protocol over MQTT.
//!
//! Layers, each using only those above it: [`protocol`] → [`model`] → [`workspace`] → … →
//! [`runner`] → [`history`] → [`ui`] and [`cli`].

pub mod broker;
pub mod cli;
pub mod control;
pub mod history;
pub mod hub;
pub mod model;
pub mod protocol;
pub mod qualify;
pub mod report;
pub mod runner;
pub mod transport;
pub mod ui;
pub mod workspace;
