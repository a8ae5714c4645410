//! `thingbench generate`: a suite written from the models.

use std::path::PathBuf;

use crate::report::generate::{generate, write_suite};

use super::{UsageError, open_workspace};

/// Options of `thingbench generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// The workspace folder with workspace.json (default: ./fixtures).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Only this product (repeat for more); default: every product of the workspace.
    #[arg(long = "product", value_name = "PK")]
    pub products: Vec<String>,
    /// The folder to write the suite to, one subfolder per product.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs `thingbench generate`: writes the suite and says how many fixtures went where.
pub fn run_generate(args: &GenerateArgs, out: &mut dyn std::io::Write) -> Result<(), UsageError> {
    let ws = open_workspace(args.workspace.as_deref(), None)?;
    let (suite, notes) = generate(&ws, &args.products)?;
    for note in &notes {
        super::run::say(note);
    }
    if suite.is_empty() {
        return Err(UsageError(
            "no fixtures to write: no product has both a loaded model and a device in workspace.json".into(),
        ));
    }
    let written = write_suite(&args.out, &suite)?;
    let mut per_product: Vec<(String, usize)> = Vec::new();
    for generated in &suite {
        let pk = generated
            .file
            .iter()
            .next()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        match per_product.last_mut() {
            Some((last, n)) if *last == pk => *n += 1,
            _ => per_product.push((pk, 1)),
        }
    }
    let counts: Vec<String> = per_product
        .iter()
        .map(|(pk, n)| format!("{pk} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "wrote {written} fixtures to {} ({})",
        args.out.display(),
        counts.join(", ")
    );
    Ok(())
}
