//! The checks on the device's link rather than its requests: `keeps-alive` (MQTT 3.1.2.10)
//! and `refuses-bad-certificates`, judged from what the proxy recorded of each TLS session and
//! each connection's keep-alive and silences.

use std::time::Duration;

use crate::broker::tls::{CertFault, HandshakeFailure};

use super::checks::{Evidence, Verdict};
use super::judge::{Record, Seen};
use super::plan::Plan;

/// A TLS session on the proxy, from its handshake on.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenTls {
    /// When the handshake ended.
    pub at_ms: u64,
    /// The proxy's number for the session.
    pub session: u64,
    /// The bad certificate shown, or `None` for the server's own.
    pub shown: Option<CertFault>,
    /// How the handshake ended.
    pub handshake: Result<(), HandshakeFailure>,
    /// The device's connection whose CONNECT came over it.
    pub conn: Option<u64>,
}

/// How the device kept one accepted connection alive.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenLink {
    pub conn: u64,
    /// The keep-alive its CONNECT named, in seconds.
    pub keep_alive_s: u16,
    /// When the broker accepted it.
    pub connected_ms: u64,
    /// When it ended, if it did before the plan.
    pub ended_ms: Option<u64>,
    /// The longest the device sent nothing on it: from when (plan ms), and how long.
    pub silence: Option<(u64, Duration)>,
}

type Judged = (Verdict, String, Vec<Evidence>);

/// `keeps-alive`: every CONNECT names a keep-alive above 0, and the device is never silent
/// longer than 1.5 × keep-alive on a connection that lasted that long. `now_ms` while the plan
/// runs: a connection still open lasts until now.
pub fn keeps_alive(plan: &Plan, record: &Record, now_ms: Option<u64>) -> Judged {
    let end = now_ms.unwrap_or_else(|| u64::try_from(plan.length().as_millis()).unwrap_or(0));
    let links: Vec<&SeenLink> = record
        .seen
        .iter()
        .filter_map(|s| match s {
            Seen::Link(link) => Some(link),
            _ => None,
        })
        .collect();
    if links.is_empty() {
        return (
            Verdict::NotApplicable,
            "no CONNECT was accepted".into(),
            Vec::new(),
        );
    }
    let mut failures = Vec::new();
    for link in &links {
        let conn = link.conn;
        if link.keep_alive_s == 0 {
            failures.push(Evidence {
                at_ms: link.connected_ms,
                row: None,
                text: format!(
                    "the CONNECT of connection {conn} named a keep-alive of 0 (none); expected a keep-alive above 0 (MQTT 3.1.1, 3.1.2.10)"
                ),
            });
            continue;
        }
        let limit = Duration::from_millis(u64::from(link.keep_alive_s) * 1500);
        let lasted = link
            .ended_ms
            .unwrap_or(end)
            .min(end)
            .saturating_sub(link.connected_ms);
        if u128::from(lasted) < limit.as_millis() {
            continue;
        }
        if let Some((from, silence)) = link.silence.filter(|(_, s)| *s > limit) {
            failures.push(Evidence {
                at_ms: from,
                row: None,
                text: format!(
                    "connection {conn} was silent for {} ms from {from} ms on the plan clock; expected some packet at least every {} ms (1.5 x its keep-alive of {} s)",
                    silence.as_millis(),
                    limit.as_millis(),
                    link.keep_alive_s
                ),
            });
        }
    }
    if failures.is_empty() {
        let mut alive: Vec<u16> = links.iter().map(|l| l.keep_alive_s).collect();
        alive.sort_unstable();
        alive.dedup();
        let alive: Vec<String> = alive.iter().map(|s| format!("{s} s")).collect();
        (
            Verdict::Pass,
            format!(
                "{} connection(s) named a keep-alive ({}) and kept it",
                links.len(),
                alive.join(", ")
            ),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {} connections did not keep alive",
                failures.len(),
                links.len()
            ),
            failures,
        )
    }
}

/// `refuses-bad-certificates`: no CONNECT came over a TLS session that showed a bad
/// certificate.
pub fn refuses_bad_certificates(plan: &Plan, record: &Record) -> Judged {
    if !plan.has_tls_faults() {
        return (
            Verdict::NotApplicable,
            "no phase shows a bad certificate".into(),
            Vec::new(),
        );
    }
    let mut shown = 0;
    let mut failures = Vec::new();
    for seen in &record.seen {
        let Seen::Tls(tls) = seen else { continue };
        let Some(fault) = tls.shown else { continue };
        shown += 1;
        if let Some(conn) = tls.conn {
            let phase = plan
                .phase_at(Duration::from_millis(tls.at_ms))
                .map_or_else(String::new, |(_, phase, _)| {
                    format!(" in phase \"{}\"", phase.name)
                });
            failures.push(Evidence {
                at_ms: tls.at_ms,
                row: None,
                text: format!(
                    "a CONNECT (connection {conn}) came over a TLS session that showed {}{phase}; expected the device to abort the handshake",
                    fault.words()
                ),
            });
        }
    }
    if shown == 0 {
        return (
            Verdict::NotApplicable,
            "the device made no connection while a bad certificate was shown".into(),
            Vec::new(),
        );
    }
    if failures.is_empty() {
        (
            Verdict::Pass,
            format!("the device refused all {shown} bad certificate(s) shown"),
            Vec::new(),
        )
    } else {
        (
            Verdict::Fail,
            format!(
                "{} of {shown} TLS sessions with a bad certificate carried a CONNECT",
                failures.len()
            ),
            failures,
        )
    }
}

/// For `connects`: the TLS handshakes that failed on the device's client certificate
/// (`--tls-client-ca`).
pub fn refused_client_certificates(record: &Record) -> Vec<Evidence> {
    record
        .seen
        .iter()
        .filter_map(|s| match s {
            Seen::Tls(SeenTls {
                at_ms,
                handshake: Err(failure @ HandshakeFailure::ClientCertificate(_)),
                ..
            }) => Some(Evidence {
                at_ms: *at_ms,
                row: None,
                text: format!(
                    "a TLS handshake failed: {failure}; expected a client certificate signed by the --tls-client-ca CA"
                ),
            }),
            _ => None,
        })
        .collect()
}

/// Why the device never connected, from what the proxy saw of its attempts: failed TLS
/// handshakes and refused CONNECTs, with what to do; `None` when it never tried.
pub fn why_never_connected(record: &Record, ca_file: Option<&std::path::Path>) -> Option<String> {
    let mut handshakes = 0;
    let mut last_handshake = None;
    let mut refused = 0;
    let mut last_refusal = None;
    for seen in &record.seen {
        match seen {
            Seen::Tls(SeenTls {
                handshake: Err(failure),
                ..
            }) => {
                handshakes += 1;
                last_handshake = Some(failure);
            }
            Seen::Connect {
                signed: Err(why), ..
            } => {
                refused += 1;
                last_refusal = Some(why);
            }
            _ => {}
        }
    }
    let trust = ca_file.map_or_else(
        || "the CA of the server certificate".to_owned(),
        |ca| ca.display().to_string(),
    );
    let mut parts = Vec::new();
    if let Some(failure) = last_handshake {
        let todo = match failure {
            HandshakeFailure::Refused(_) | HandshakeFailure::Closed => {
                format!("the device must trust {trust}")
            }
            HandshakeFailure::ClientCertificate(_) => {
                "give the device a client certificate signed by the --tls-client-ca CA".to_owned()
            }
            HandshakeFailure::TimedOut | HandshakeFailure::Other(_) => {
                "the device must speak TLS (mqtts://) to this address".to_owned()
            }
        };
        parts.push(format!(
            "{handshakes} TLS handshake(s) failed, the last because {failure}: {todo}"
        ));
    }
    if let Some(why) = last_refusal {
        parts.push(format!(
            "{refused} CONNECT(s) were refused with CONNACK 5, the last because {why}"
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
#[path = "judge_link_tests.rs"]
mod tests;
