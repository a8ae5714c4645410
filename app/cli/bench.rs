//! `thingbench bench`: round trips per second and latency against a broker and hub.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::runner::Runner;
use crate::runner::connect::{broker_or_embedded, gateway_session};
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
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// Runs `thingbench bench`.
pub fn bench(args: &BenchArgs, out: &mut dyn std::io::Write) -> Result<ExitCode, UsageError> {
    use crate::runner::bench::{BenchConfig, bench_body, run_bench, warm_up};
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
    let (embedded, url) = broker_or_embedded(&feed, broker).map_err(UsageError)?;
    if let Some((broker, _)) = &embedded {
        super::run::warn_about_latency(broker);
    }
    let session = gateway_session(&ws, url.clone(), args.tls.options()).map_err(UsageError)?;
    let registry = ws.registry(&LoginState::All);
    let device = ws
        .sub_devices()
        .into_iter()
        .find(|d| registry.model_of(&d.product_key).is_some())
        .unwrap_or_else(|| ws.gateway());
    let body = bench_body(&registry, &device, args.points).map_err(UsageError)?;
    let mut runner = Runner::new(Arc::clone(&ws), &session).tell(&url, say);
    for note in runner.apply_login(&LoginState::Only(vec![device.clone()])) {
        say(&note);
    }
    warm_up(&mut runner, &ws.gateway(), &body).map_err(UsageError)?;
    drop(runner);
    let config = BenchConfig {
        requests: args.requests,
        inflight: args.inflight,
        points: args.points,
    };
    let report = run_bench(&session, &ws.gateway(), &body, config);
    super::run::EmbeddedHubNews::new(&embedded).say();
    let written = if args.json {
        writeln!(out, "{}", report.to_json())
    } else {
        writeln!(out, "broker          {url}")
            .and_then(|_| {
                writeln!(
                    out,
                    "requests        {} of {} points, {} in flight, as {device}",
                    report.requests, args.points, args.inflight
                )
            })
            .and_then(|_| writeln!(out, "round trips/s   {:.0}", report.req_per_s))
            .and_then(|_| writeln!(out, "round trip p50  {:.3} ms", report.p50_ms))
            .and_then(|_| writeln!(out, "round trip p99  {:.3} ms", report.p99_ms))
            .and_then(|_| {
                writeln!(
                    out,
                    "publishes/s     {:.0} (same payloads, broker PUBACK only)",
                    report.publish_per_s
                )
            })
            .and_then(|_| {
                writeln!(
                    out,
                    "ratio           {:.2} (round trips / publishes)",
                    report.req_per_s / report.publish_per_s
                )
            })
            .and_then(|_| writeln!(out, "lost            {}", report.lost))
            .and_then(|_| writeln!(out, "not 200         {}", report.not_200))
    };
    written.map_err(|e| UsageError(format!("cannot write the output: {e}")))?;
    Ok(if report.lost == 0 && report.not_200 == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
