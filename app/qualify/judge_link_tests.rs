//! `keeps-alive` and `refuses-bad-certificates` on records made by hand: a device that keeps
//! its link and refuses every bad certificate passes, and each misstep fails its check alone.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::qualify::checks::{CheckId, CheckResult};
use crate::qualify::judge::judge;
use crate::qualify::plan::{Answer, Network, Phase};
use crate::workspace::{LoginState, Workspace};

fn phase(name: &str, secs: u64, tls: Option<CertFault>) -> Phase {
    Phase {
        name: name.into(),
        length: Duration::from_secs(secs),
        answer: Answer::Normal,
        network: Network::Up,
        delay: Duration::ZERO,
        commands: Vec::new(),
        tls,
    }
}

/// steady 0..10 s, untrusted 10..14 s, wrong-host 14..18 s, expired 18..22 s, recovery
/// 22..30 s.
fn plan(faults: bool) -> Plan {
    let ws = workspace();
    let mut phases = vec![phase("steady", 10, None)];
    if faults {
        phases.extend([
            phase("untrusted", 4, Some(CertFault::Untrusted)),
            phase("wrong host", 4, Some(CertFault::WrongHost)),
            phase("expired", 4, Some(CertFault::Expired)),
        ]);
    }
    phases.push(phase("recovery", 8, None));
    Plan {
        name: "link".into(),
        device: ws.gateway(),
        connect_within: Duration::from_secs(10),
        period: Duration::from_secs(2),
        phases,
        levels: BTreeMap::new(),
        command_timeout: Duration::from_secs(30),
    }
}

fn workspace() -> Workspace {
    Workspace::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
        .expect("the sample workspace loads")
}

/// A device's link as the proxy records it.
#[derive(Default)]
struct Link {
    record: Record,
    conn: u64,
    session: u64,
}

impl Link {
    /// A TLS handshake at `at_ms` showing `shown`; `completed` or refused by the device.
    fn handshake(&mut self, at_ms: u64, shown: Option<CertFault>, completed: bool) {
        self.session += 1;
        self.record.seen.push(Seen::Tls(SeenTls {
            at_ms,
            session: self.session,
            shown,
            handshake: if completed {
                Ok(())
            } else {
                Err(HandshakeFailure::Refused("BadCertificate".into()))
            },
            conn: None,
        }));
    }

    /// A CONNECT over the last TLS session, accepted, naming `keep_alive_s`.
    fn connect(&mut self, at_ms: u64, keep_alive_s: u16) {
        self.conn += 1;
        let conn = self.conn;
        if let Some(Seen::Tls(tls)) = self
            .record
            .seen
            .iter_mut()
            .rev()
            .find(|s| matches!(s, Seen::Tls(_)))
        {
            tls.conn = Some(conn);
        }
        self.record.seen.push(Seen::Connect {
            at_ms,
            conn,
            signed: Ok(()),
        });
        self.record.seen.push(Seen::Link(SeenLink {
            conn,
            keep_alive_s,
            connected_ms: at_ms,
            ended_ms: None,
            silence: Some((at_ms, Duration::from_millis(900))),
        }));
    }

    /// The last connection was silent for `ms` from `from_ms`.
    fn silent(&mut self, from_ms: u64, ms: u64) {
        let conn = self.conn;
        for seen in &mut self.record.seen {
            if let Seen::Link(link) = seen
                && link.conn == conn
            {
                link.silence = Some((from_ms, Duration::from_millis(ms)));
            }
        }
    }

    /// The last connection ended at `at_ms`.
    fn disconnect(&mut self, at_ms: u64) {
        let conn = self.conn;
        for seen in &mut self.record.seen {
            if let Seen::Link(link) = seen
                && link.conn == conn
            {
                link.ended_ms = Some(at_ms);
            }
        }
        self.record.seen.push(Seen::Disconnect {
            at_ms,
            conn,
            departed: true,
        });
    }

    /// A device that keeps a 2 s keep-alive and refuses every bad certificate: connected in
    /// steady, cut at 10 s, refusing one certificate of each fault, back at 22 s.
    fn well_behaved() -> Self {
        let mut link = Self::default();
        link.handshake(0, None, true);
        link.connect(0, 2);
        link.disconnect(10_000);
        for (at, fault) in [
            (10_500, CertFault::Untrusted),
            (12_000, CertFault::Untrusted),
            (14_200, CertFault::WrongHost),
            (18_300, CertFault::Expired),
        ] {
            link.handshake(at, Some(fault), false);
        }
        link.handshake(22_100, None, true);
        link.connect(22_100, 2);
        link
    }

    fn verdict(&self, plan: &Plan, check: CheckId) -> CheckResult {
        let registry = workspace().registry(&LoginState::All);
        judge(plan, &registry, &self.record)
            .into_iter()
            .find(|r| r.check == check)
            .expect("every check is judged")
    }
}

#[test]
fn a_device_that_keeps_its_link_and_refuses_bad_certificates_passes_both() {
    let link = Link::well_behaved();
    let plan = plan(true);
    let alive = link.verdict(&plan, CheckId::KeepsAlive);
    assert_eq!(alive.verdict, Verdict::Pass, "{alive:?}");
    assert_eq!(alive.level.name(), "should");
    let refuses = link.verdict(&plan, CheckId::RefusesBadCertificates);
    assert_eq!(refuses.verdict, Verdict::Pass, "{refuses:?}");
    assert_eq!(refuses.level.name(), "must");
    assert!(refuses.summary.contains("all 4"), "{}", refuses.summary);
    // A refused handshake is the device's choice, not a failed CONNECT.
    assert_eq!(
        link.verdict(&plan, CheckId::Connects).verdict,
        Verdict::Pass
    );
}

#[test]
fn a_connect_over_a_bad_certificate_fails_refuses_bad_certificates_naming_it() {
    let mut link = Link::well_behaved();
    // It accepted the expired certificate and sent its CONNECT.
    link.handshake(19_000, Some(CertFault::Expired), true);
    link.connect(19_000, 2);
    link.disconnect(22_000);
    let result = link.verdict(&plan(true), CheckId::RefusesBadCertificates);
    assert_eq!(result.verdict, Verdict::Fail);
    assert!(result.fails_the_run());
    assert_eq!(result.evidence.len(), 1, "{result:?}");
    let text = &result.evidence[0].text;
    assert!(
        text.contains("an expired certificate of the right CA")
            && text.contains("phase \"expired\"")
            && text.contains("expected the device to abort the handshake"),
        "{text}"
    );
    assert_eq!(result.evidence[0].at_ms, 19_000);
}

#[test]
fn refuses_bad_certificates_is_not_applicable_without_a_tls_phase() {
    let mut link = Link::default();
    link.connect(0, 2);
    let result = link.verdict(&plan(false), CheckId::RefusesBadCertificates);
    assert_eq!(result.verdict, Verdict::NotApplicable);
    assert!(result.summary.contains("no phase"), "{}", result.summary);
}

#[test]
fn a_keep_alive_of_zero_fails_keeps_alive() {
    let mut link = Link::default();
    link.connect(0, 0);
    let result = link.verdict(&plan(false), CheckId::KeepsAlive);
    assert_eq!(result.verdict, Verdict::Fail);
    assert!(
        result.evidence[0].text.contains("keep-alive of 0")
            && result.evidence[0].text.contains("3.1.2.10"),
        "{result:?}"
    );
}

#[test]
fn silence_past_one_and_a_half_keep_alives_fails_keeps_alive_and_shorter_does_not() {
    // Keep-alive 2 s: 3 s of silence is the limit.
    let mut link = Link::default();
    link.connect(0, 2);
    link.silent(4_000, 3_000);
    assert_eq!(
        link.verdict(&plan(false), CheckId::KeepsAlive).verdict,
        Verdict::Pass,
        "exactly 1.5 x keep-alive is within the rule"
    );
    link.silent(4_000, 3_001);
    let result = link.verdict(&plan(false), CheckId::KeepsAlive);
    assert_eq!(result.verdict, Verdict::Fail);
    let text = &result.evidence[0].text;
    assert!(
        text.contains("silent for 3001 ms from 4000 ms") && text.contains("every 3000 ms"),
        "{text}"
    );
    assert_eq!(result.evidence[0].at_ms, 4_000);
}

#[test]
fn the_silence_rule_spares_a_connection_shorter_than_its_limit() {
    // Keep-alive 10 s (limit 15 s): a connection of 12 s, silent all along, is not judged on
    // its silence; one of 16 s is.
    let mut link = Link::default();
    link.connect(0, 10);
    link.silent(0, 12_000);
    link.disconnect(12_000);
    assert_eq!(
        link.verdict(&plan(false), CheckId::KeepsAlive).verdict,
        Verdict::Pass
    );
    let mut link = Link::default();
    link.connect(0, 10);
    link.silent(0, 16_000);
    link.disconnect(16_000);
    assert_eq!(
        link.verdict(&plan(false), CheckId::KeepsAlive).verdict,
        Verdict::Fail
    );
}

#[test]
fn keeps_alive_is_not_applicable_only_without_an_accepted_connect() {
    let link = Link::default();
    let result = link.verdict(&plan(false), CheckId::KeepsAlive);
    assert_eq!(result.verdict, Verdict::NotApplicable);
    assert_eq!(result.summary, "no CONNECT was accepted");
}

#[test]
fn a_handshake_refused_for_its_client_certificate_fails_connects() {
    let mut link = Link::default();
    link.session += 1;
    link.record.seen.push(Seen::Tls(SeenTls {
        at_ms: 0,
        session: 1,
        shown: None,
        handshake: Err(HandshakeFailure::ClientCertificate(
            "invalid peer certificate: UnknownIssuer".into(),
        )),
        conn: None,
    }));
    let result = link.verdict(&plan(false), CheckId::Connects);
    assert_eq!(result.verdict, Verdict::Fail, "{result:?}");
    assert!(
        result.evidence[0].text.contains("--tls-client-ca"),
        "{result:?}"
    );
}
