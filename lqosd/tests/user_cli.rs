//! `lqosd user add|list|remove`: the operator's way to manage WebUI users (no root needed).

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn lqosd(dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lqosd"))
        .arg("--config")
        .arg(dir.join("lqos.conf"))
        .args(args)
        .env_remove("LQOS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lqosd");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write");
    child.wait_with_output().expect("wait")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn users_are_added_listed_and_removed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("lqos.conf"),
        format!(
            "lqos_directory = \"{0}\"\nstate_directory = \"{0}/state\"\n[bridge]\nto_internet = \"a0\"\nto_network = \"b0\"\n",
            d.display()
        ),
    )
    .expect("conf");
    // The WebUI's first-run token, as a running lqosd with no users leaves it: the CLI needs
    // none, and removes it once a user exists.
    let token = d.join("state/webui-setup-token");
    std::fs::create_dir_all(d.join("state")).expect("state");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").expect("token");
    let added = lqosd(d, &["user", "add", "ops"], "a long password\n");
    assert!(added.status.success(), "{}", text(&added));
    assert!(!token.exists(), "{}", text(&added));
    assert!(text(&added).contains("removed the WebUI's first-run setup token"));
    let viewer = lqosd(
        d,
        &["user", "add", "noc", "--role", "read-only"],
        "another password\n",
    );
    assert!(viewer.status.success(), "{}", text(&viewer));
    let list = lqosd(d, &["user", "list"], "");
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "ops\tadmin\nnoc\tread-only\n"
    );
    let file = std::fs::read_to_string(d.join("state/webusers.toml")).expect("users file");
    assert!(!file.contains("a long password") && file.contains("$argon2id$"));

    let short = lqosd(d, &["user", "add", "x"], "short\n");
    assert!(
        !short.status.success() && text(&short).contains("at least 8"),
        "{}",
        text(&short)
    );
    let twice = lqosd(d, &["user", "add", "ops"], "a long password\n");
    assert!(text(&twice).contains("already exists"), "{}", text(&twice));
    let role = lqosd(
        d,
        &["user", "add", "y", "--role", "root"],
        "a long password\n",
    );
    assert!(
        text(&role).contains("expected admin or read-only"),
        "{}",
        text(&role)
    );

    let removed = lqosd(d, &["user", "remove", "noc"], "");
    assert!(removed.status.success(), "{}", text(&removed));
    let gone = lqosd(d, &["user", "remove", "noc"], "");
    assert!(
        !gone.status.success() && text(&gone).contains("no user \"noc\""),
        "{}",
        text(&gone)
    );
    assert_eq!(
        String::from_utf8_lossy(&lqosd(d, &["user", "list"], "").stdout),
        "ops\tadmin\n"
    );
}
