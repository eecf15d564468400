//! The generated manual pages and completions name every command and subcommand, and the
//! pages render with man(1) without a warning.

use anyhow::{ensure, Context, Result};
use std::path::Path;
use std::process::Command;

/// Every command and its subcommands, as the binaries define them (kept by hand on purpose:
/// a subcommand that disappears from a page must fail here).
const COMMANDS: &[(&str, &[&str])] = &[
    ("lqosd", &["teardown", "user"]),
    ("lqos-scheduler", &["validate", "refresh", "run"]),
    (
        "lqos",
        &["status", "issues", "ack", "lookup", "top", "support"],
    ),
    ("lqtop", &[]),
];

fn generate(out: &Path) -> Result<String> {
    let run = Command::new(env!("CARGO_BIN_EXE_lqos-manpages"))
        .arg(out)
        .output()?;
    ensure!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    Ok(String::from_utf8_lossy(&run.stdout).into_owned())
}

#[test]
fn every_subcommand_has_its_page_and_completion() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let printed = generate(dir.path())?;
    ensure!(printed.contains("manual pages"), "{printed}");
    let man8 = dir.path().join("man/man8");
    for (cmd, subs) in COMMANDS {
        let page = std::fs::read_to_string(man8.join(format!("{cmd}.8")))
            .with_context(|| format!("{cmd}.8"))?;
        ensure!(
            page.contains(".TH ") && page.contains("lqos"),
            "{cmd}.8 is a man page"
        );
        let bash =
            std::fs::read_to_string(dir.path().join(format!("completions/bash/{cmd}.bash")))?;
        for sub in *subs {
            ensure!(page.contains(sub), "{cmd}.8 names {sub}");
            ensure!(
                man8.join(format!("{cmd}-{sub}.8")).exists(),
                "{cmd}-{sub}.8 exists"
            );
            ensure!(
                bash.contains(sub),
                "the bash completion of {cmd} offers {sub}"
            );
        }
        for shell_file in [format!("zsh/_{cmd}"), format!("fish/{cmd}.fish")] {
            ensure!(
                dir.path().join("completions").join(&shell_file).exists(),
                "{shell_file}"
            );
        }
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(dir.path().join(format!("completions/bash/{cmd}.bash")))
            .status()?;
        ensure!(syntax.success(), "the bash completion of {cmd} parses");
    }
    // Nested subcommands get pages too.
    ensure!(man8.join("lqosd-user-add.8").exists(), "lqosd-user-add.8");
    Ok(())
}

#[test]
fn the_pages_render_with_man() -> Result<()> {
    let dir = tempfile::tempdir()?;
    generate(dir.path())?;
    let man8 = dir.path().join("man/man8");
    for (cmd, _) in COMMANDS {
        let out = Command::new("man")
            .args(["-l", "-Tutf8"])
            .arg(man8.join(format!("{cmd}.8")))
            .env("MANWIDTH", "100")
            .output()
            .context("man(1) (Debian's man-db, installed by scripts/setup.sh)")?;
        // man marks bold and underline by overstriking (`c\x08c`); keep the letters.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            if c == '\x08' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        let err = String::from_utf8_lossy(&out.stderr);
        ensure!(
            out.status.success() && err.trim().is_empty(),
            "man -l {cmd}.8: {err}"
        );
        ensure!(
            text.contains("--config")
                && (text.contains("SUBCOMMANDS") || *cmd == "lqtop")
                && !text.contains("-help(8)"),
            "{cmd}.8 renders its options and subcommands:\n{text}"
        );
    }
    Ok(())
}
