//! The workbench's rules between its controllers, against the real embedded broker and hub,
//! without a window: one gateway session carries the draft's sends, the suite and watch mode,
//! and each reply reaches the one who asked.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::*;
use crate::control::testing::sample;
use crate::control::{Command, ConnectionForm, LinkState};
use crate::history::RowKind;
use crate::protocol::{DeviceId, ReplyCode};

/// A workbench on the sample workspace with the embedded broker and hub, and the channel its
/// wake calls.
fn bench() -> (Workbench, mpsc::Receiver<()>) {
    let (woken_tx, woken) = mpsc::channel();
    let wake: Wake = Arc::new(move || {
        let _ = woken_tx.send(());
    });
    let mut bench = Workbench::new(Ok(sample()), ConnectionForm::default(), None, wake);
    bench.connect();
    (bench, woken)
}

/// Polls `bench` until `done`, woken by the background, failing after 20 s.
fn until(
    bench: &mut Workbench,
    woken: &mpsc::Receiver<()>,
    what: &str,
    done: impl Fn(&Workbench) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        bench.poll();
        if done(bench) {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {what} within 20 s");
        // A tick now and then for the suite's own clock.
        let _ = woken.recv_timeout(left.min(Duration::from_millis(250)));
    }
}

#[test]
fn a_suite_runs_on_the_window_session_while_the_draft_is_sent_and_each_reply_finds_its_owner() {
    let (mut bench, woken) = bench();
    until(&mut bench, &woken, "connection", |b| {
        *b.link() == LinkState::Connected && b.registry().logged_in.len() >= 3
    });
    let messages = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages");
    let files = crate::runner::collect_fixture_files(&[messages])
        .expect("the sample suite")
        .files;
    let total = files.len();
    bench.apply(Command::RunSuite(files));
    assert!(bench.suite.running());
    // The draft goes out on the same session while the suite runs.
    for _ in 0..3 {
        bench.apply(Command::Send);
        until(&mut bench, &woken, "the draft's reply", |b| {
            matches!(b.draft.send_state, Some(SendState::Replied { .. }))
        });
        let Some(SendState::Replied { code, .. }) = &bench.draft.send_state else {
            unreachable!()
        };
        assert_eq!(*code, ReplyCode::SUCCESS, "the starter batch is valid");
        bench.draft.send_state = None;
    }
    until(&mut bench, &woken, "the suite's end", |b| {
        b.suite.results.len() == total && !b.suite.running()
    });
    // No device is connected to the embedded broker but the window: the commands are skipped.
    let skipped = crate::runner::skipped_count(&bench.suite.results);
    assert_eq!(skipped, 4, "the sample's commands");
    assert_eq!(
        bench.suite.passed(),
        total - skipped,
        "{:#?}",
        bench.suite.results
    );
    // Nothing was taken for another's reply: no unpaired row, every request answered.
    let rows: Vec<_> = (bench.timeline.first()..bench.timeline.end())
        .filter_map(|i| bench.timeline.row(i).copied())
        .collect();
    assert!(rows.iter().all(|r| r.kind != RowKind::Unpaired));
    let suite_rows = rows
        .iter()
        .filter(|r| r.kind == RowKind::Request && bench.timeline.note(r) == "suite")
        .count();
    assert!(suite_rows >= total, "{suite_rows} suite requests");
    // The suite's last fixtures log sub-devices out and in: the window's registry follows
    // what the hub believes, so the draft is predicted as the hub will answer.
    assert_eq!(
        bench.registry().logged_in.len(),
        3,
        "every sub-device with a secret (meter02's is an unset variable)"
    );
}

#[test]
fn a_logout_made_by_the_suite_changes_what_the_draft_is_predicted() {
    let (mut bench, woken) = bench();
    let inv = DeviceId::new("invPk", "inv01");
    until(&mut bench, &woken, "the window's logins", |b| {
        b.registry().logged_in.contains(&inv)
    });
    bench.poll();
    assert_eq!(
        bench.draft.report().map(|r| r.code),
        Some(ReplyCode::SUCCESS)
    );
    let logout = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/messages/061-200-logout.json");
    bench.apply(Command::RunSuite(vec![logout]));
    until(&mut bench, &woken, "the logout fixture", |b| {
        b.suite.results.len() == 1 && !b.suite.running()
    });
    assert_eq!(bench.suite.passed(), 1);
    assert!(!bench.registry().logged_in.contains(&inv));
    bench.poll();
    // The starter draft posts for inv01: now the hub answers 1212, and the check says so.
    assert_eq!(
        bench.draft.report().map(|r| r.code),
        Some(ReplyCode(1212)),
        "the draft follows the suite's logout"
    );
}

#[test]
fn watch_mode_is_fed_by_the_window_session_with_the_others_traffic_not_its_own_sends() {
    use crate::transport::{SessionCommand, SessionEvent};
    let (mut bench, woken) = bench();
    // Logged in before watching: what the window sends from now on is the draft alone.
    until(&mut bench, &woken, "connection and logins", |b| {
        *b.link() == LinkState::Connected
            && b.connection.pending() == 0
            && b.registry().logged_in.len() >= 3
    });
    bench.apply(Command::StartWatch);
    until(&mut bench, &woken, "watching", |b| {
        b.watch.as_ref().is_some_and(WatchCtl::ready)
    });
    bench.apply(Command::Send);
    until(&mut bench, &woken, "the draft's reply", |b| {
        matches!(b.draft.send_state, Some(SendState::Replied { .. }))
    });

    // A device under test on the same broker, another client, posts for inv01: its post
    // follows the window's on the one watched filter, so had the window's own come back it
    // would have been seen first. (A client id of its own and no credentials, as a tool's.)
    let url = bench.broker_url().cloned().expect("connected");
    let device = crate::runner::connect::watcher_session(url, Default::default())
        .expect("the device's session connects");
    let device_event = |wanted: &dyn Fn(&SessionEvent) -> bool| loop {
        let event = device
            .events
            .recv_timeout(Duration::from_secs(10))
            .expect("the device's session reports within 10 s");
        if wanted(&event) {
            return event;
        }
    };
    let topic = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
    let post = |id: &str| {
        let payload = serde_json::json!({"id": id, "version": "1.0",
            "method": "thing.measurepoint.post.batch",
            "params": [{"productKey": "invPk", "deviceKey": "inv01",
                        "measurepoints": {"temp": 41.5}}]});
        device.send(SessionCommand::Request {
            request: crate::transport::RequestId(1),
            topic: topic.into(),
            payload: serde_json::to_vec(&payload).expect("JSON"),
            msg_id: Some(crate::protocol::MsgId(id.into())),
            timeout: Duration::from_secs(10),
        });
    };
    post("device-1");
    let answered = device_event(&|e| {
        matches!(
            e,
            SessionEvent::Replied { .. } | SessionEvent::NoReply { .. }
        )
    });
    assert!(
        matches!(&answered, SessionEvent::Replied { reply, .. } if reply.code == ReplyCode::SUCCESS),
        "{answered:?}"
    );
    until(&mut bench, &woken, "the device's watched exchange", |b| {
        b.watch
            .as_ref()
            .is_some_and(|w| w.watched().iter().any(|w| w.actual.is_some()))
    });
    let watched = bench.watch.as_ref().expect("watching").watched();
    assert_eq!(watched.len(), 1, "the device's post alone: {watched:#?}");
    let inv = DeviceId::new("invPk", "inv01");
    assert_eq!(
        watched[0].id.as_ref().map(|id| id.0.as_str()),
        Some("device-1")
    );
    assert!(watched[0].devices.contains(&inv) && watched[0].agrees());
    // The device's reply came on the window's own reply topic: watched traffic, not a reply
    // of the window's gone astray; the draft's reply reached the draft once.
    let unpaired = |b: &Workbench| -> Vec<String> {
        (b.timeline.first()..b.timeline.end())
            .filter_map(|i| b.timeline.row(i))
            .filter(|r| r.kind == RowKind::Unpaired)
            .map(|r| format!("{} {}", b.timeline.topic(r), b.timeline.note(r)))
            .collect()
    };
    assert!(unpaired(&bench).is_empty(), "{:#?}", unpaired(&bench));

    // Stopped, the watch sees nothing more; unwatched, another's reply on the window's reply
    // topic is unpaired again, and shows that the window read past the device's post.
    bench.apply(Command::StopWatch);
    post("device-2");
    device_event(&|e| matches!(e, SessionEvent::Replied { .. }));
    until(&mut bench, &woken, "the device's reply as unpaired", |b| {
        !unpaired(b).is_empty()
    });
    assert_eq!(
        bench.watch.as_ref().expect("kept").watched().len(),
        1,
        "a stopped watch sees nothing more"
    );
}
