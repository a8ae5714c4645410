//! thingbench: a test workbench for the EnOS-style device protocol over MQTT.
//!
//! Layers, each a folder that uses only the folders before it in this order:
//! [`protocol`] → [`model`] → [`workspace`] → [`history`] → [`transport`] → [`broker`] →
//! [`hub`] → [`runner`] → [`qualify`] → [`report`] → [`control`] → [`ui`] and [`cli`].
//! The first four know nothing of MQTT or egui; [`runner`] and [`qualify`] hold their protocol
//! logic as state machines (fed events, answering with what to do) that thin drivers run;
//! [`control`] is the window's state and routing without egui, which [`ui`] only draws.

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
