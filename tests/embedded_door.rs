//! The embedded broker's door, as every client of `serve`, `run`, `bench` and the window meets
//! it: when a gateway's last connection ends, the reference hub logs its sub-devices out, as
//! the platform does; clients that are not devices pass through untouched.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use thingbench::broker::EmbeddedBroker;
use thingbench::protocol::{DeviceId, Method, MsgId, ReplyCode, request_topic};
use thingbench::runner::bench::bench_body;
use thingbench::runner::connect::{gateway_session, start_embedded};
use thingbench::runner::{Outcome, Runner};
use thingbench::transport::{Session, TlsOptions};
use thingbench::workspace::{LoginState, Workspace, WorkspaceFeed};

/// One batch for `device` over `session`: the code the hub answered.
fn batch(ws: &Arc<Workspace>, session: &Session, device: &DeviceId, n: u32) -> ReplyCode {
    let registry = ws.registry(&LoginState::All);
    let body = bench_body(&registry, device, 1).expect("a body");
    let id = format!("door-{n}");
    let payload = format!("{{\"id\":\"{id}\",{body}").into_bytes();
    let mut runner = Runner::new(Arc::clone(ws), session);
    match runner.request(
        request_topic(Method::PostBatch, &ws.gateway()),
        payload,
        Some(MsgId(id)),
        Duration::from_secs(5),
    ) {
        Outcome::Replied { code, .. } => code,
        other => panic!("no reply to the batch: {other:?}"),
    }
}

#[test]
fn a_gateway_that_disconnects_has_its_sub_devices_logged_out() {
    let ws = Arc::new(Workspace::load(&common::root().join("fixtures")).expect("the sample"));
    let (broker, _hub) =
        start_embedded(WorkspaceFeed::fixed(Arc::clone(&ws)), None).expect("broker and hub");
    let inv01 = DeviceId::new("invPk", "inv01");

    let first = gateway_session(&ws, broker.url(), TlsOptions::default()).expect("connects");
    let notes =
        Runner::new(Arc::clone(&ws), &first).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(batch(&ws, &first, &inv01, 1), ReplyCode::SUCCESS);
    // A watcher that is no device comes and goes: nobody is logged out for it.
    let watcher = thingbench::runner::connect::watcher_session(broker.url(), TlsOptions::default())
        .expect("a watcher connects");
    drop(watcher);
    assert_eq!(batch(&ws, &first, &inv01, 2), ReplyCode::SUCCESS);
    drop(first);

    // Connected again, without logging in: the hub has logged inv01 out. The door hears of the
    // old connection's end as soon as its socket closes; wait for that, with a deadline.
    let again = gateway_session(&ws, broker.url(), TlsOptions::default()).expect("connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 3;
    loop {
        let code = batch(&ws, &again, &inv01, n);
        if code.0 == 1212 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "inv01 is still logged in 10 s after its gateway left (answered {code})"
        );
        n += 1;
    }
    // Logging in again works as before.
    let notes =
        Runner::new(Arc::clone(&ws), &again).apply_login(&LoginState::Only(vec![inv01.clone()]));
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(batch(&ws, &again, &inv01, 100), ReplyCode::SUCCESS);
}

#[test]
fn the_door_forwards_to_the_embedded_broker_and_closing_it_frees_the_port() {
    let mut broker = EmbeddedBroker::start(None).expect("starts");
    let addr = broker.addr;
    // Clients reach the door, not rumqttd's own port.
    assert_ne!(broker.url(), broker.inner_url());
    assert!(std::net::TcpStream::connect(addr).is_ok());
    broker.close();
    // The public port is free again: a new broker can take it.
    let again = EmbeddedBroker::start(Some(addr)).expect("the door's port is free again");
    assert_eq!(again.addr, addr);
}
