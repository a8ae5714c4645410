//! The `thingbench` binary: the window by default, headless commands otherwise.

use std::process::ExitCode;

use clap::Parser as _;
use thingbench::cli::package_files::{PACKAGE_FILES, PackageFilesArgs, write_package_files};
use thingbench::cli::{
    Cli, Command, GuiArgs, UsageError, bench, hub, open_workspace_env, qualify, run_check,
    run_suite, serve, watch,
};
use thingbench::workspace::{SamplePlaces, installed_sample};

fn main() -> ExitCode {
    // Packaging asks for the man pages and completions before `Cli` is parsed: the command is
    // kept out of `Cli` so that they never offer it (see cli::package_files).
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == PACKAGE_FILES)
    {
        return package_files();
    }
    let cli = Cli::parse();
    let result = match cli.command {
        None => run_gui(&GuiArgs::default()).map_err(|e| e.0),
        Some(Command::Gui(args)) => run_gui(&args).map_err(|e| e.0),
        Some(Command::Run(args)) => {
            thingbench::cli::stop_on_ctrl_c("stopping after the fixture in flight");
            let mut stdout = std::io::stdout().lock();
            run_suite(&args, &mut stdout).map_err(|e| e.0)
        }
        Some(Command::Bench(args)) => {
            let mut stdout = std::io::stdout().lock();
            bench(&args, &mut stdout).map_err(|e| e.0)
        }
        Some(Command::Watch(args)) => {
            thingbench::cli::stop_on_ctrl_c("stopping: the summary and files follow");
            let mut stdout = std::io::stdout().lock();
            watch(&args, &mut stdout).map_err(|e| e.0)
        }
        Some(Command::Qualify(args)) => {
            thingbench::cli::stop_on_ctrl_c("stopping: the verdicts so far follow");
            let mut stdout = std::io::stdout().lock();
            qualify(&args, &mut stdout).map_err(|e| e.0)
        }
        Some(Command::Serve(args)) => serve(&args).map_err(|e| e.0),
        Some(Command::Hub(args)) => hub(&args).map_err(|e| e.0),
        Some(Command::Generate(args)) => {
            let mut stdout = std::io::stdout().lock();
            thingbench::cli::run_generate(&args, &mut stdout)
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| e.0)
        }
        Some(Command::Check(args)) => {
            let mut stdout = std::io::stdout().lock();
            run_check(&args, &mut stdout)
                .map(|_| ExitCode::SUCCESS)
                .map_err(|e| e.0)
        }
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("thingbench: {message}");
            ExitCode::from(2)
        }
    }
}

/// `thingbench package-files DIR`: writes the man pages and completions for the package.
fn package_files() -> ExitCode {
    let args = PackageFilesArgs::parse_from(std::env::args_os().skip(1));
    match write_package_files(&args.out) {
        Ok(written) => {
            println!("wrote {} files to {}", written.len(), args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("thingbench: {e}");
            ExitCode::from(2)
        }
    }
}

fn run_gui(args: &GuiArgs) -> Result<ExitCode, UsageError> {
    let started = std::time::Instant::now();
    let workspace = open_workspace_env(args.workspace.as_deref(), None, args.env.as_deref());
    // An environment asked for by name must exist: the window would otherwise open without it.
    if args.env.is_some()
        && let Err(e) = &workspace
    {
        return Err(e.clone().into());
    }
    let broker = args.broker.clone();
    let timing = args.timing;
    let demo_rows = args.demo_rows.unwrap_or(0);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("thingbench")
            .with_inner_size([1280.0, 800.0]),
        // OpenGL draws a frame about three times faster than wgpu on software rendering
        // (llvmpipe) at the same memory; THINGBENCH_RENDERER=wgpu chooses wgpu.
        renderer: match std::env::var("THINGBENCH_RENDERER").as_deref() {
            Ok("wgpu") => eframe::Renderer::Wgpu,
            _ => eframe::Renderer::Glow,
        },
        ..Default::default()
    };
    let sample = sample_places();
    eframe::run_native(
        "thingbench",
        options,
        Box::new(move |cc| {
            let app = thingbench::ui::WorkbenchApp::new(
                thingbench::ui::Startup {
                    timing: timing.then_some(started),
                    demo_rows,
                    ..thingbench::ui::Startup::new(workspace, broker)
                },
                &cc.egui_ctx,
                cc.storage,
            );
            Ok(Box::new(app.with_sample(sample)))
        }),
    )
    .map_err(|e| {
        UsageError(format!(
            "cannot open the window: {e}; run under a desktop session or Xvfb"
        ))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The installed sample (beside the binary, see `installed_sample`) and its copy in the
/// user's data folder, beside the window's saved state (`~/.local/share/thingbench/sample`).
fn sample_places() -> Option<SamplePlaces> {
    let exe = std::env::current_exe().ok()?;
    Some(SamplePlaces {
        installed: installed_sample(&exe)?,
        copy: eframe::storage_dir("thingbench")?.join("sample"),
    })
}
