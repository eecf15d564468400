//! `lqos-manpages OUT`: writes the manual pages (`OUT/man/man8/lqosd.8`, `lqosd-user-add.8`,
//! ... one page per command and subcommand) and the shell completions
//! (`OUT/completions/{bash,zsh,fish}/...`) of lqosd, lqos-scheduler, lqos and lqtop, generated from
//! the same clap definitions the binaries parse, so they can never disagree. The packaging
//! script runs it.

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};

/// Section 8: system administration commands (all three need root or the lqos group).
const SECTION: &str = "8";

fn commands() -> Vec<clap::Command> {
    vec![
        lqosd::cli::Cli::command().name("lqosd"),
        lqos_scheduler::cli::Cli::command().name("lqos-scheduler"),
        lqos_cli::cli::Cli::command().name("lqos"),
        lqtop::cli::Cli::command().name("lqtop"),
    ]
}

/// Writes the page of `cmd` (named `name`) and of each of its subcommands, recursively.
fn write_pages(cmd: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    // `help` is a subcommand of the binaries, but has no page of its own.
    let cmd = cmd
        .clone()
        .name(name.to_owned())
        .disable_help_subcommand(true);
    let path = dir.join(format!("{name}.{SECTION}"));
    let mut text = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .section(SECTION)
        .manual("lqos")
        .source(format!("lqos {}", env!("CARGO_PKG_VERSION")))
        .render(&mut text)
        .with_context(|| format!("rendering {name}"))?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let mut written = vec![path];
    for sub in cmd.get_subcommands() {
        written.extend(write_pages(
            sub,
            &format!("{name}-{}", sub.get_name()),
            dir,
        )?);
    }
    Ok(written)
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(
        std::env::args_os()
            .nth(1)
            .context("usage: lqos-manpages OUT_DIR")?,
    );
    let man = out.join("man").join(format!("man{SECTION}"));
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    let mut pages = 0;
    for mut cmd in commands() {
        let name = cmd.get_name().to_owned();
        pages += write_pages(&cmd, &name, &man)?.len();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let dir = out.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&dir)?;
            clap_complete::generate_to(shell, &mut cmd, &name, &dir)
                .with_context(|| format!("{shell} completions of {name}"))?;
        }
    }
    println!(
        "wrote {pages} manual pages and bash, zsh and fish completions under {}",
        out.display()
    );
    Ok(())
}
