//! `thingbench bench`: round trips per second and latency against a broker and hub.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::tls::{DoorTls, TlsSetup};
use crate::qualify::{Plan, Stand};
use crate::runner::Runner;
use crate::runner::bench::{BenchConfig, BenchReport, bench_body, run_bench, warm_up};
use crate::runner::connect::{broker_or_embedded, gateway_session};
use crate::transport::{BrokerUrl, Scheme, TlsOptions};
use crate::workspace::{LoginState, WorkspaceFeed};

use super::run::{TlsArgs, say};
use super::{UsageError, open_workspace_env};

/// Options of `thingbench bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// A broker with a hub on it (default: the embedded broker and hub).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The environment of workspace.json to use: its broker, devices and variables.
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,
    /// How many batch requests to send.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub requests: usize,
    /// How many requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub inflight: usize,
    /// Measure points per batch.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub points: usize,
    /// Print {"requests", "req_per_s", "p50_ms", "p99_ms", "publish_per_s", "lost"}.
    #[arg(long)]
    pub json: bool,
    /// Measure in one run, on the same broker and hub: directly, then through the
    /// qualification proxy in a normal phase; with the embedded broker also straight to it,
    /// behind its door (`--json`: {"direct", "proxied", "proxy_adds_p50_ms"}, and "straight",
    /// "door_adds_p50_ms").
    #[arg(long)]
    pub through_proxy: bool,
    /// Measure in one run, on the embedded broker and hub: through its plain door, then
    /// through a second door speaking TLS with the client (a certificate of the workspace's
    /// local CA), with what TLS adds (`--json`: {"plain", "tls", "tls_adds_p50_ms",
    /// "tls_adds_p99_ms"}). With --inflight 1 it is the round trip's own cost.
    #[arg(long, conflicts_with_all = ["broker", "through_proxy"])]
    pub tls: bool,
    #[command(flatten)]
    pub broker_tls: TlsArgs,
}

/// Runs `thingbench bench`.
pub fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    if args.requests == 0 || args.inflight == 0 || args.points == 0 {
        return Err(UsageError(
            "--requests, --inflight and --points must be at least 1".into(),
        ));
    }
    let ws = Arc::new(open_workspace_env(
        args.workspace.as_deref(),
        None,
        args.env.as_deref(),
    )?);
    let feed = WorkspaceFeed::fixed(Arc::clone(&ws));
    let broker = args.broker.as_deref().or(ws.broker());
    if args.through_proxy {
        return bench_through_proxy(args, &ws, feed, broker, out);
    }
    if args.tls {
        return bench_tls(args, &ws, &feed, out);
    }
    let (embedded, url) = broker_or_embedded(&feed, broker).map_err(UsageError)?;
    let (report, device) = measure(args, &ws, &url, args.broker_tls.options())?;
    super::run::EmbeddedHubNews::new(&embedded).say();
    let written = if args.json {
        writeln!(out, "{}", report.to_json())
    } else {
        print_report(out, &url, &report, args, &device)
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(exit_code(&[&report]))
}

/// The same bench in one run, on the same broker and hub: as every client reaches the broker,
/// then through the qualification proxy in a normal phase (as the device under test), with what
/// the proxy adds; for the embedded broker also straight to rumqttd, behind the door.
fn bench_through_proxy(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    feed: WorkspaceFeed,
    broker: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<ExitCode, UsageError> {
    let broker = broker
        .map(BrokerUrl::parse)
        .transpose()
        .map_err(UsageError)?;
    let plan = Plan::steady(ws.gateway(), Duration::from_secs(24 * 3600));
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let stand = Stand::start(
        plan,
        feed,
        loopback,
        broker,
        args.broker_tls.options(),
        Box::new(|| {}),
    )
    .map_err(UsageError)?;
    let direct_url = stand.broker_url().clone();
    let proxy_url =
        BrokerUrl::parse(&format!("mqtt://{}", stand.qualification.listen)).map_err(UsageError)?;
    // The embedded broker's own listener, behind the door every client comes in by: what the
    // door itself costs.
    let straight = stand
        .inner_url()
        .map(|url| measure(args, ws, &url, TlsOptions::default()).map(|(report, _)| (url, report)))
        .transpose()?;
    let (direct, device) = measure(args, ws, &direct_url, args.broker_tls.options())?;
    let (proxied, _) = measure(args, ws, &proxy_url, TlsOptions::default())?;
    let added_p50 = proxied.p50_ms - direct.p50_ms;
    let written = if args.json {
        let mut json = serde_json::json!({"direct": direct.to_json(), "proxied": proxied.to_json(),
                                          "proxy_adds_p50_ms": added_p50});
        if let Some((_, straight)) = &straight {
            json["straight"] = straight.to_json();
            json["door_adds_p50_ms"] = (direct.p50_ms - straight.p50_ms).into();
        }
        writeln!(out, "{json}")
    } else {
        let mut written = Ok(());
        if let Some((url, straight)) = &straight {
            written = writeln!(out, "straight to the embedded broker, behind its door:")
                .and_then(|()| print_report(out, url, straight, args, &device))
                .and_then(|()| writeln!(out));
        }
        written
            .and_then(|()| print_report(out, &direct_url, &direct, args, &device))
            .and_then(|()| writeln!(out))
            .and_then(|()| print_report(out, &proxy_url, &proxied, args, &device))
            .and_then(|()| writeln!(out))
            .and_then(|()| match &straight {
                Some((_, straight)) => writeln!(
                    out,
                    "door adds       {:.3} ms at p50, {:.3} ms at p99",
                    direct.p50_ms - straight.p50_ms,
                    direct.p99_ms - straight.p99_ms
                ),
                None => Ok(()),
            })
            .and_then(|()| {
                writeln!(
                    out,
                    "proxy adds      {added_p50:.3} ms at p50, {:.3} ms at p99",
                    proxied.p99_ms - direct.p99_ms
                )
            })
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(exit_code(&[&direct, &proxied]))
}

/// The same bench in one run on the embedded broker and hub: through its plain door, then
/// through a second door speaking TLS with the client, with what TLS adds.
fn bench_tls(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    feed: &WorkspaceFeed,
    out: &mut dyn std::io::Write,
) -> Result<ExitCode, UsageError> {
    let (embedded, plain_url) = broker_or_embedded(feed, None).map_err(UsageError)?;
    let Some((broker, _hub)) = &embedded else {
        return Err(UsageError("--tls needs the embedded broker".into()));
    };
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let door_tls = DoorTls::new(&TlsSetup::default(), &ws.root, loopback)
        .map_err(|e| UsageError(e.to_string()))?;
    let trust = TlsOptions {
        ca_file: door_tls.ca_file.clone(),
        ..TlsOptions::default()
    };
    let door = broker
        .open_tls_door(Arc::new(door_tls))
        .map_err(|e| UsageError(e.to_string()))?;
    let tls_url = BrokerUrl {
        scheme: Scheme::Mqtts,
        host: door.addr.ip().to_string(),
        port: door.addr.port(),
    };
    let (plain, device) = measure(args, ws, &plain_url, TlsOptions::default())?;
    let (tls, _) = measure(args, ws, &tls_url, trust)?;
    let (adds_p50, adds_p99) = (tls.p50_ms - plain.p50_ms, tls.p99_ms - plain.p99_ms);
    let written = if args.json {
        let json = serde_json::json!({"plain": plain.to_json(), "tls": tls.to_json(),
                                      "tls_adds_p50_ms": adds_p50, "tls_adds_p99_ms": adds_p99});
        writeln!(out, "{json}")
    } else {
        print_report(out, &plain_url, &plain, args, &device)
            .and_then(|()| writeln!(out))
            .and_then(|()| print_report(out, &tls_url, &tls, args, &device))
            .and_then(|()| writeln!(out))
            .and_then(|()| {
                writeln!(
                    out,
                    "TLS adds        {adds_p50:.3} ms at p50, {adds_p99:.3} ms at p99"
                )
            })
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    drop(door);
    Ok(exit_code(&[&plain, &tls]))
}

/// Logs a sub-device in over a session to `url`, warms up, and runs the bench.
fn measure(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    url: &BrokerUrl,
    tls: TlsOptions,
) -> Result<(BenchReport, crate::protocol::DeviceId), UsageError> {
    let session = gateway_session(ws, url.clone(), tls).map_err(UsageError)?;
    let registry = ws.registry(&LoginState::All);
    let device = ws
        .sub_devices()
        .into_iter()
        .find(|d| registry.model_of(&d.product_key).is_some())
        .unwrap_or_else(|| ws.gateway());
    let body = bench_body(&registry, &device, args.points)?;
    let mut runner = Runner::new(Arc::clone(ws), &session).tell(url, say);
    for note in runner.apply_login(&LoginState::Only(vec![device.clone()])) {
        say(&note);
    }
    warm_up(&mut runner, &ws.gateway(), &body)?;
    drop(runner);
    let config = BenchConfig {
        requests: args.requests,
        inflight: args.inflight,
        points: args.points,
    };
    Ok((run_bench(&session, &ws.gateway(), &body, config), device))
}

fn print_report(
    out: &mut dyn std::io::Write,
    url: &BrokerUrl,
    report: &BenchReport,
    args: &BenchArgs,
    device: &crate::protocol::DeviceId,
) -> std::io::Result<()> {
    writeln!(out, "broker          {url}")?;
    writeln!(
        out,
        "requests        {} of {} points, {} in flight, as {device}",
        report.requests, args.points, args.inflight
    )?;
    writeln!(out, "round trips/s   {:.0}", report.req_per_s)?;
    writeln!(out, "round trip p50  {:.3} ms", report.p50_ms)?;
    writeln!(out, "round trip p99  {:.3} ms", report.p99_ms)?;
    writeln!(
        out,
        "publishes/s     {:.0} (same payloads, broker PUBACK only)",
        report.publish_per_s
    )?;
    writeln!(
        out,
        "ratio           {:.2} (round trips / publishes)",
        report.req_per_s / report.publish_per_s
    )?;
    writeln!(out, "lost            {}", report.lost)?;
    writeln!(out, "not 200         {}", report.not_200)
}

/// 0 when every request of every report got a 200, else 1.
fn exit_code(reports: &[&BenchReport]) -> ExitCode {
    if reports.iter().all(|r| r.lost == 0 && r.not_200 == 0) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
