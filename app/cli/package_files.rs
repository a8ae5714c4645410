//! The man pages and shell completions the Debian package installs, made from the clap
//! definitions of [`Cli`] so that they never drift from `--help`.
//!
//! The binary writes them itself (`thingbench package-files DIR`, run before `cargo deb`)
//! rather than a build script: the options of each command are defined beside its code
//! (`RunArgs` in `cli/run.rs`, which uses the transport's TLS options, and so on), so a build
//! script could only include them by compiling most of the crate a second time, and the binary
//! is built before packaging anyway. `package-files` is not a subcommand of [`Cli`]: clap_complete
//! offers hidden subcommands too, so the completions would suggest it; `main` reads it first.

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::Shell;

use super::Cli;
use crate::protocol::EpochMs;
use crate::report::utc_date;
use crate::workspace::write_atomic;

/// The first argument that asks for the packaging files instead of [`Cli`].
pub const PACKAGE_FILES: &str = "package-files";

/// Options of `thingbench package-files`.
#[derive(Debug, clap::Parser)]
#[command(
    name = "thingbench package-files",
    about = "Write the man pages and shell completions for packaging (into DIR/man and DIR/completions)."
)]
pub struct PackageFilesArgs {
    /// The folder to write `man/` and `completions/` into (created when missing).
    #[arg(value_name = "DIR")]
    pub out: PathBuf,
}

/// Why the packaging files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PackageFilesError {
    #[error("cannot render the man page {page}: {source}")]
    Render { page: String, source: io::Error },
    #[error("cannot write {}: {source}; check that the folder is writable", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// One generated file: its name and its bytes.
#[derive(Debug)]
pub struct GeneratedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The pages' date: `SOURCE_DATE_EPOCH` (seconds) for a reproducible package, else today. An
/// empty date would shift the title line's other fields (roff drops an empty argument).
fn man_date() -> String {
    let at = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map_or_else(EpochMs::now, |secs| EpochMs(secs.saturating_mul(1000)));
    // `2026-12-02 18:40:12 UTC` → `2026-12-02`.
    utc_date(at).chars().take(10).collect()
}

/// The shells whose completions are packaged, with the file name each one's folder expects.
pub const SHELLS: [(Shell, &str); 3] = [
    (Shell::Bash, "thingbench.bash"),
    (Shell::Zsh, "_thingbench"),
    (Shell::Fish, "thingbench.fish"),
];

/// The command line as clap sees it, built (subcommands know their full names).
fn built_command() -> clap::Command {
    // `thingbench help run` is not worth a page of its own: `man thingbench-run` is that page.
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// One man page for `thingbench` and one per subcommand (`thingbench-run.1`, as git names
/// its pages), in section 1.
pub fn man_pages() -> Result<Vec<GeneratedFile>, PackageFilesError> {
    let date = man_date();
    let cmd = built_command();
    let mut commands = vec![cmd.clone()];
    commands.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    commands
        .into_iter()
        .map(|command| {
            // A subcommand has no version of its own: every page names the program's.
            let man = clap_mangen::Man::new(command)
                .date(&date)
                .source(format!("thingbench {}", env!("CARGO_PKG_VERSION")))
                .manual("thingbench manual");
            let name = man.get_filename();
            let mut bytes = Vec::new();
            man.render(&mut bytes)
                .map_err(|source| PackageFilesError::Render {
                    page: name.clone(),
                    source,
                })?;
            Ok(GeneratedFile { name, bytes })
        })
        .collect()
}

/// The completion scripts for bash, zsh and fish, named as [`SHELLS`] says.
pub fn completions() -> Vec<GeneratedFile> {
    SHELLS
        .iter()
        .map(|(shell, name)| {
            let mut cmd = Cli::command();
            let mut bytes = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "thingbench", &mut bytes);
            GeneratedFile {
                name: (*name).to_owned(),
                bytes,
            }
        })
        .collect()
}

/// Writes the man pages to `out/man/` and the completions to `out/completions/`, each file
/// atomically; returns the paths written.
pub fn write_package_files(out: &Path) -> Result<Vec<PathBuf>, PackageFilesError> {
    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    let files = man_pages()?
        .into_iter()
        .map(|file| (man_dir.join(&file.name), file.bytes))
        .chain(
            completions()
                .into_iter()
                .map(|file| (completions_dir.join(&file.name), file.bytes)),
        );
    let mut written = Vec::new();
    for (path, bytes) in files {
        let wrote = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| write_atomic(&path, &bytes));
        if let Err(source) = wrote {
            return Err(PackageFilesError::Write { path, source });
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `--long` option the help text of `cmd` names (with `--help`, and `--version`
    /// where there is one).
    fn options_in_help(cmd: &mut clap::Command) -> Vec<String> {
        let help = cmd.render_long_help().to_string();
        let mut options: Vec<String> = help
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|word| {
                word.len() > 2
                    && word.starts_with("--")
                    && word[2..].starts_with(|c: char| c.is_ascii_lowercase())
            })
            .map(str::to_owned)
            .collect();
        options.sort();
        options.dedup();
        options
    }

    /// The visible subcommands, by name.
    fn subcommand_names() -> Vec<String> {
        built_command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| s.get_name().to_owned())
            .collect()
    }

    fn text(file: &GeneratedFile) -> String {
        String::from_utf8(file.bytes.clone()).expect("generated text is UTF-8")
    }

    #[test]
    fn the_help_names_options_for_the_test_to_look_for() {
        let mut cmd = built_command();
        let run = cmd.find_subcommand_mut("run").expect("run");
        let options = options_in_help(run);
        for expected in [
            "--workspace",
            "--broker",
            "--junit",
            "--timeout-ms",
            "--help",
        ] {
            assert!(options.iter().any(|o| o == expected), "{options:?}");
        }
        assert!(subcommand_names().len() >= 9, "{:?}", subcommand_names());
    }

    #[test]
    fn a_man_page_per_subcommand_names_every_option_its_help_names() {
        let pages = man_pages().expect("man pages render");
        let page = |name: &str| {
            let found = pages.iter().find(|p| p.name == name);
            // roff writes a hyphen as `\-` and an apostrophe as `\*(Aq`.
            found.map(|p| text(p).replace("\\-", "-").replace("\\*(Aq", "'"))
        };
        let top = page("thingbench.1").expect("thingbench.1");
        // Title, section, date, source and manual, none empty (roff would shift the others).
        let title_of = |roff: &str, name: &str| {
            let line = roff.lines().find(|l| l.starts_with(".TH ")).expect(".TH");
            let tail = format!(
                " \"thingbench {}\" \"thingbench manual\"",
                env!("CARGO_PKG_VERSION")
            );
            let date = line
                .strip_prefix(&format!(".TH {name} 1 "))
                .and_then(|rest| rest.strip_suffix(&tail))
                .unwrap_or_else(|| panic!("{line}"));
            let digits = date.chars().filter(char::is_ascii_digit).count();
            assert!(date.len() == 10 && digits == 8, "date {date} in {line}");
        };
        title_of(&top, "thingbench");
        let mut cmd = built_command();
        for option in options_in_help(&mut cmd) {
            assert!(top.contains(&option), "thingbench.1 lacks {option}");
        }
        for name in subcommand_names() {
            // The top page points at each subcommand's page.
            assert!(top.contains(&format!("thingbench-{name}(1)")), "{name}");
            let file = format!("thingbench-{name}.1");
            let roff = page(&file).unwrap_or_else(|| panic!("no {file}"));
            title_of(&roff, &format!("thingbench-{name}"));
            let sub = cmd.find_subcommand_mut(&name).expect("subcommand");
            let about = sub.get_about().expect("every subcommand says what it does");
            assert!(roff.contains(&about.to_string()), "{file} lacks its about");
            for option in options_in_help(sub) {
                assert!(roff.contains(&option), "{file} lacks {option}");
            }
        }
        assert_eq!(pages.len(), subcommand_names().len() + 1);
        // The packaging command stays out of the pages.
        assert!(!top.contains(PACKAGE_FILES));
    }

    #[test]
    fn bash_zsh_and_fish_complete_every_subcommand_and_its_options() {
        let scripts = completions();
        let script = |name: &str| {
            let found = scripts.iter().find(|s| s.name == name);
            found.map(text).unwrap_or_else(|| panic!("no {name}"))
        };
        let (bash, zsh, fish) = (
            script("thingbench.bash"),
            script("_thingbench"),
            script("thingbench.fish"),
        );
        assert!(bash.contains("complete -F _thingbench"), "{bash}");
        assert!(zsh.starts_with("#compdef thingbench"), "{zsh}");
        let mut cmd = built_command();
        for name in subcommand_names() {
            let sub = cmd.find_subcommand_mut(&name).expect("subcommand");
            let options = options_in_help(sub);
            // bash: the subcommand's own case lists its options.
            let block = bash
                .split(&format!("\n        thingbench__subcmd__{name})\n"))
                .nth(1)
                .map(|rest| rest.split(";;").next().unwrap_or_default())
                .unwrap_or_else(|| panic!("bash has no case for {name}:\n{bash}"));
            // zsh: the subcommand's `(name)` branch of `_arguments`.
            let branch = zsh
                .split(&format!("({name})\n_arguments"))
                .nth(1)
                .map(|rest| rest.split(";;").next().unwrap_or_default())
                .unwrap_or_else(|| panic!("zsh has no branch for {name}:\n{zsh}"));
            // fish: the lines that apply when the subcommand was typed.
            let fish_lines: Vec<&str> = fish
                .lines()
                .filter(|l| l.contains(&format!("__fish_thingbench_using_subcommand {name}\"")))
                .collect();
            assert!(!fish_lines.is_empty(), "fish has no lines for {name}");
            for option in options {
                assert!(block.contains(&option), "bash {name} lacks {option}");
                assert!(branch.contains(&option), "zsh {name} lacks {option}");
                let long = format!("-l {}", &option[2..]);
                assert!(
                    fish_lines.iter().any(|l| l.contains(&long)),
                    "fish {name} lacks {option}"
                );
            }
            // The top level offers the subcommand itself.
            assert!(bash.contains(&format!("thingbench,{name})")), "bash {name}");
            assert!(zsh.contains(&format!("'{name}:")), "zsh {name}");
            assert!(fish.contains(&format!("-a \"{name}\"")), "fish {name}");
        }
        for script in [&bash, &zsh, &fish] {
            assert!(!script.contains(PACKAGE_FILES));
        }
    }

    #[test]
    fn the_files_are_written_where_the_package_takes_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = write_package_files(dir.path()).expect("written");
        for expected in [
            "man/thingbench.1",
            "man/thingbench-run.1",
            "man/thingbench-qualify.1",
            "completions/thingbench.bash",
            "completions/_thingbench",
            "completions/thingbench.fish",
        ] {
            let path = dir.path().join(expected);
            assert!(written.contains(&path), "{expected} not in {written:?}");
            let bytes = std::fs::read(&path).expect("readable");
            assert!(!bytes.is_empty(), "{expected} is empty");
        }
        // A file where a folder must go is a clear error naming the path.
        let blocked = dir.path().join("blocked");
        std::fs::write(&blocked, "a file").expect("write");
        let err = write_package_files(&blocked).expect_err("cannot write under a file");
        let message = err.to_string();
        assert!(message.contains("blocked"), "{message}");
        assert!(
            message.contains("check that the folder is writable"),
            "{message}"
        );
    }
}
