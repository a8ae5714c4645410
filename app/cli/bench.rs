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
    /// Print {"requests", "req_per_s", "p50_ms", "p99_ms", "publish_per_s", "ratio", "lost",
    /// "not_200"}.
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
    /// Measure in the same run, beside the posts: set commands from thingbench's platform
    /// client, answered at once by a device in this process connected as the gateway
    /// (`--json`: "commands", with "commands_p50_ms").
    #[arg(long, conflicts_with_all = ["through_proxy", "tls"])]
    pub commands: bool,
    /// Run the whole bench N times and print each figure's median and spread (min – max): a
    /// single run on a shared machine swings by ±20 % (`--json`: {"repeat", "runs", "median",
    /// "min", "max"}, and with --tls or --through-proxy what TLS, the door or the proxy adds at
    /// p50 and p99, e.g. "median": {"tls_adds": {"p50_ms", "p99_ms"}}).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: usize,
    #[command(flatten)]
    pub broker_tls: TlsArgs,
}

/// The figures of one run: each measurement by its name ("bench", "direct", "tls", ...).
type Run = Vec<(&'static str, BenchReport)>;

/// Runs `thingbench bench`.
pub fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    if args.requests == 0 || args.inflight == 0 || args.points == 0 || args.repeat == 0 {
        return Err(UsageError(
            "--requests, --inflight, --points and --repeat must be at least 1".into(),
        ));
    }
    let ws = Arc::new(open_workspace_env(
        args.workspace.as_deref(),
        None,
        args.env.as_deref(),
    )?);
    let feed = WorkspaceFeed::fixed(Arc::clone(&ws));
    let broker = args.broker.as_deref().or(ws.broker());
    let mut runs: Vec<Run> = Vec::with_capacity(args.repeat);
    for n in 0..args.repeat {
        if args.repeat > 1 {
            say(&format!("run {} of {}", n + 1, args.repeat));
        }
        let run = if args.through_proxy {
            bench_through_proxy(args, &ws, feed.clone(), broker, out)?
        } else if args.tls {
            bench_tls(args, &ws, &feed, out)?
        } else {
            bench_plain(args, &ws, &feed, broker, out)?
        };
        runs.push(run);
    }
    if args.repeat > 1 {
        print_repeated(out, &runs, args.json)
            .map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    }
    let all: Vec<&BenchReport> = runs.iter().flatten().map(|(_, r)| r).collect();
    Ok(exit_code(&all))
}

/// The bench on one broker and hub (the embedded ones by default), with the commands beside it
/// when asked; printed at once when it runs once.
fn bench_plain(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    feed: &WorkspaceFeed,
    broker: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<Run, UsageError> {
    let (embedded, url) = broker_or_embedded(feed, broker).map_err(UsageError::from)?;
    let (report, device) = measure(args, ws, &url, args.broker_tls.options())?;
    let mut run: Run = vec![("bench", report)];
    if args.commands {
        run.push(("commands", measure_commands(args, ws, &url)?));
    }
    super::run::EmbeddedHubNews::new(&embedded).say();
    if args.repeat > 1 {
        return Ok(run);
    }
    let written = if args.json {
        let mut json = run[0].1.to_json();
        if let Some((_, commands)) = run.get(1) {
            json["commands"] = commands.to_json();
            json["commands_p50_ms"] = commands.p50_ms.into();
        }
        writeln!(out, "{json}")
    } else {
        print_report(out, &url, &run[0].1, args, &device).and_then(|()| match run.get(1) {
            Some((_, commands)) => writeln!(out).and_then(|()| print_commands(out, commands, args)),
            None => Ok(()),
        })
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(run)
}

/// Set commands to the gateway from a platform client, answered by a device in this process.
fn measure_commands(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    url: &BrokerUrl,
) -> Result<BenchReport, UsageError> {
    let gateway = ws.gateway();
    let registry = ws.registry(&LoginState::All);
    let point = registry
        .model_of(&gateway.product_key)
        .and_then(|model| {
            model
                .points
                .iter()
                .find(|p| {
                    matches!(
                        p.data_type,
                        crate::model::DataType::Int
                            | crate::model::DataType::Float
                            | crate::model::DataType::Double
                    ) && !p.has_quality
                })
                .map(|p| p.identifier.clone())
        })
        .ok_or_else(|| {
            UsageError(format!(
                "--commands: the model of the gateway {gateway} has no number point to set"
            ))
        })?;
    let mut config =
        crate::runner::connect::device_config(ws, url.clone(), args.broker_tls.options())
            .map_err(UsageError::from)?;
    config.client_id.push_str("-bench-device");
    let _device = crate::runner::bench_commands::InProcessDevice::start(config, &gateway)
        .map_err(UsageError::from)?;
    let platform = crate::runner::connect::platform_session(url.clone(), args.broker_tls.options())
        .map_err(UsageError::from)?;
    let config = BenchConfig {
        requests: args.requests,
        inflight: args.inflight,
        points: 1,
    };
    // A few first, so that subscriptions and first allocations stay out of the figure.
    let warm = BenchConfig {
        requests: 5,
        inflight: 1,
        points: 1,
    };
    crate::runner::bench_commands::run_command_bench(&platform, &gateway, &point, warm);
    Ok(crate::runner::bench_commands::run_command_bench(
        &platform, &gateway, &point, config,
    ))
}

fn print_commands(
    out: &mut dyn std::io::Write,
    report: &BenchReport,
    args: &BenchArgs,
) -> std::io::Result<()> {
    writeln!(
        out,
        "commands        {} set commands from the platform client, {} in flight, answered by a device in this process",
        report.requests, args.inflight
    )?;
    writeln!(out, "commands/s      {:.0}", report.req_per_s)?;
    writeln!(out, "command p50     {:.3} ms", report.p50_ms)?;
    writeln!(out, "command p99     {:.3} ms", report.p99_ms)?;
    writeln!(out, "lost            {}", report.lost)?;
    writeln!(out, "not 200         {}", report.not_200)
}

/// Each figure of each measurement over the runs: its median and its spread.
fn print_repeated(out: &mut dyn std::io::Write, runs: &[Run], json: bool) -> std::io::Result<()> {
    let labels: Vec<&'static str> = runs
        .first()
        .map_or(Vec::new(), |run| run.iter().map(|(l, _)| *l).collect());
    let figure = |label: &str, pick: &dyn Fn(&BenchReport) -> f64| -> Vec<f64> {
        let mut values: Vec<f64> = runs
            .iter()
            .filter_map(|run| run.iter().find(|(l, _)| *l == label).map(|(_, r)| pick(r)))
            .filter(|v| v.is_finite())
            .collect();
        values.sort_by(f64::total_cmp);
        values
    };
    let median = |values: &[f64]| -> f64 {
        match values.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => values[n / 2],
            n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        }
    };
    type Pick = fn(&BenchReport) -> f64;
    let figures: [(&str, Pick); 5] = [
        ("req_per_s", |r| r.req_per_s),
        ("publish_per_s", |r| r.publish_per_s),
        ("ratio", |r| r.req_per_s / r.publish_per_s),
        ("p50_ms", |r| r.p50_ms),
        ("p99_ms", |r| r.p99_ms),
    ];
    // What one measurement adds to another, run by run: (name, the one, the other).
    let adds: Vec<(&str, Vec<f64>, Vec<f64>)> = ADDS
        .iter()
        .filter(|(_, one, other)| labels.contains(one) && labels.contains(other))
        .map(|(name, one, other)| {
            let diff = |pick: Pick| -> Vec<f64> {
                let mut values: Vec<f64> = runs
                    .iter()
                    .filter_map(|run| {
                        let of = |label: &str| run.iter().find(|(l, _)| *l == label);
                        Some(pick(&of(one)?.1) - pick(&of(other)?.1))
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                values.sort_by(f64::total_cmp);
                values
            };
            (*name, diff(|r| r.p50_ms), diff(|r| r.p99_ms))
        })
        .collect();
    if json {
        let mut medians = serde_json::Map::new();
        let mut mins = serde_json::Map::new();
        let mut maxs = serde_json::Map::new();
        for label in &labels {
            let (mut m, mut lo, mut hi) = (
                serde_json::Map::new(),
                serde_json::Map::new(),
                serde_json::Map::new(),
            );
            for (name, pick) in figures {
                let values = figure(label, &pick);
                m.insert(name.into(), median(&values).into());
                lo.insert(
                    name.into(),
                    values.first().copied().unwrap_or(f64::NAN).into(),
                );
                hi.insert(
                    name.into(),
                    values.last().copied().unwrap_or(f64::NAN).into(),
                );
            }
            medians.insert((*label).into(), m.into());
            mins.insert((*label).into(), lo.into());
            maxs.insert((*label).into(), hi.into());
        }
        for (name, p50, p99) in &adds {
            for (into, at) in [
                (&mut medians, None),
                (&mut mins, Some(0)),
                (&mut maxs, Some(1)),
            ] {
                let pick = |values: &[f64]| -> f64 {
                    match at {
                        None => median(values),
                        Some(0) => values.first().copied().unwrap_or(f64::NAN),
                        Some(_) => values.last().copied().unwrap_or(f64::NAN),
                    }
                };
                into.insert(
                    (*name).into(),
                    serde_json::json!({"p50_ms": pick(p50), "p99_ms": pick(p99)}),
                );
            }
        }
        let each: Vec<serde_json::Value> = runs
            .iter()
            .map(|run| {
                run.iter()
                    .map(|(l, r)| ((*l).to_owned(), r.to_json()))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            })
            .collect();
        let json = serde_json::json!({"repeat": runs.len(), "runs": each,
                                      "median": medians, "min": mins, "max": maxs});
        return writeln!(out, "{json}");
    }
    writeln!(out, "{} runs: median (min – max)", runs.len())?;
    for label in labels {
        writeln!(out, "{label}:")?;
        for (name, pick) in figures {
            let values = figure(label, &pick);
            if values.is_empty() {
                continue;
            }
            let (lo, hi) = (values[0], values[values.len() - 1]);
            let m = median(&values);
            let shown = match name {
                "req_per_s" | "publish_per_s" => format!("{m:.0} ({lo:.0} – {hi:.0})"),
                "ratio" => format!("{m:.2} ({lo:.2} – {hi:.2})"),
                _ => format!("{m:.3} ({lo:.3} – {hi:.3})"),
            };
            writeln!(out, "  {name:<14} {shown}")?;
        }
    }
    for (name, p50, p99) in &adds {
        writeln!(out, "{name}:")?;
        for (figure, values) in [("p50_ms", p50), ("p99_ms", p99)] {
            if let (Some(lo), Some(hi)) = (values.first(), values.last()) {
                let m = median(values);
                writeln!(out, "  {figure:<14} {m:.3} ({lo:.3} – {hi:.3})")?;
            }
        }
    }
    Ok(())
}

/// What one measurement of a run adds to another, p50 and p99 run by run: its name, the one,
/// the other.
const ADDS: [(&str, &str, &str); 3] = [
    ("tls_adds", "tls", "plain"),
    ("door_adds", "direct", "straight"),
    ("proxy_adds", "proxied", "direct"),
];

/// The same bench in one run, on the same broker and hub: as every client reaches the broker,
/// then through the qualification proxy in a normal phase (as the device under test), with what
/// the proxy adds; for the embedded broker also straight to rumqttd, behind the door.
fn bench_through_proxy(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    feed: WorkspaceFeed,
    broker: Option<&str>,
    out: &mut dyn std::io::Write,
) -> Result<Run, UsageError> {
    let broker = broker
        .map(BrokerUrl::parse)
        .transpose()
        .map_err(UsageError::from)?;
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
    .map_err(UsageError::from)?;
    let direct_url = stand.broker_url().clone();
    let proxy_url = BrokerUrl::parse(&format!("mqtt://{}", stand.qualification.listen))
        .map_err(UsageError::from)?;
    // The embedded broker's own listener, behind the door every client comes in by: what the
    // door itself costs.
    let straight = stand
        .inner_url()
        .map(|url| measure(args, ws, &url, TlsOptions::default()).map(|(report, _)| (url, report)))
        .transpose()?;
    let (direct, device) = measure(args, ws, &direct_url, args.broker_tls.options())?;
    let (proxied, _) = measure(args, ws, &proxy_url, TlsOptions::default())?;
    let added_p50 = proxied.p50_ms - direct.p50_ms;
    let mut run: Run = Vec::new();
    if let Some((_, straight)) = &straight {
        run.push(("straight", straight.clone()));
    }
    run.extend([("direct", direct.clone()), ("proxied", proxied.clone())]);
    if args.repeat > 1 {
        return Ok(run);
    }
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
    Ok(run)
}

/// The same bench in one run on the embedded broker and hub: through its plain door, then
/// through a second door speaking TLS with the client, with what TLS adds.
fn bench_tls(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    feed: &WorkspaceFeed,
    out: &mut dyn std::io::Write,
) -> Result<Run, UsageError> {
    let (embedded, plain_url) = broker_or_embedded(feed, None).map_err(UsageError::from)?;
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
    if args.repeat > 1 {
        drop(door);
        return Ok(vec![("plain", plain), ("tls", tls)]);
    }
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
    Ok(vec![("plain", plain), ("tls", tls)])
}

/// Logs a sub-device in over a session to `url`, warms up, and runs the bench.
fn measure(
    args: &BenchArgs,
    ws: &Arc<crate::workspace::Workspace>,
    url: &BrokerUrl,
    tls: TlsOptions,
) -> Result<(BenchReport, crate::protocol::DeviceId), UsageError> {
    let session = gateway_session(ws, url.clone(), tls).map_err(UsageError::from)?;
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
