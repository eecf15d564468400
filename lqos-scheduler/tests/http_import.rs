//! `[http_import]` against a real HTTP server on loopback (a scripted HTTP/1.1 server on a
//! std TcpListener): a good export is validated and written; a 500, a truncated body, a CSV
//! that does not validate, a slow server and a server that never answers each leave the last
//! good files in place, say why, and keep the whole report in state/logs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const HEADER: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n";

#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    Status500,
    Truncated,
    Slow,
    Silent,
    NeedsToken,
}

/// Serves every connection with `body` as `behaviour` says, until the test ends.
fn serve(behaviour: Behaviour, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, behaviour, body));
        }
    });
    port
}

fn answer(mut stream: TcpStream, behaviour: Behaviour, body: &str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut auth = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        auth |= line
            .to_ascii_lowercase()
            .starts_with("authorization: bearer s3cret");
    }
    let reply = |s: &mut TcpStream, status: &str, body: &str| {
        let _ = write!(
            s,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    };
    match behaviour {
        Behaviour::Ok => reply(&mut stream, "200 OK", body),
        Behaviour::NeedsToken if auth => reply(&mut stream, "200 OK", body),
        Behaviour::NeedsToken => reply(&mut stream, "401 Unauthorized", "token required"),
        Behaviour::Status500 => reply(&mut stream, "500 Internal Server Error", "database is down"),
        Behaviour::Truncated => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                body.len() + 500,
                &body[..body.len() / 2]
            );
        }
        Behaviour::Slow => {
            std::thread::sleep(Duration::from_secs(4));
            reply(&mut stream, "200 OK", body);
        }
        Behaviour::Silent => {
            let mut sink = [0u8; 1];
            let _ = stream.read(&mut sink); // never answers; the client gives up
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

const GOOD: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\nFETCHED,Fetched,F-1,F-1,,,100.64.50.1,,5,1,50,10,from the export\n";
const NOT_CSV: &str = "<html>maintenance</html>\n";
const NET: &str = "{}";

fn setup(port: u16, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ShapedDevices.csv"),
        format!("{HEADER}LOCAL,Local,L-1,L-1,,,100.64.60.1,,5,1,20,5,\n"),
    )
    .expect("csv");
    std::fs::write(dir.path().join("network.json"), NET).expect("net");
    let conf = format!(
        "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"lqt-absent0\"\nto_network = \"lqt-absent1\"\n\
         [queues]\ndefault_sqm = \"pfifo\"\ndry_run = true\n\
         [http_import]\nshaped_devices_url = \"http://127.0.0.1:{port}/ShapedDevices.csv\"\nconnect_timeout_secs = 1\ntimeout_secs = 2\n{extra}",
        d = dir.path().display()
    );
    std::fs::write(dir.path().join("lqos.conf"), conf).expect("conf");
    dir
}

fn refresh(dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lqos-scheduler"))
        .arg("--config")
        .arg(dir.join("lqos.conf"))
        .args(["refresh", "--dry-run"])
        .env_remove("LQOS_CONFIG")
        .output()
        .expect("run")
}

fn logs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("state/logs"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[test]
fn a_good_export_is_validated_written_and_planned() {
    let dir = setup(
        serve(Behaviour::NeedsToken, GOOD),
        "bearer_token = \"s3cret\"\n",
    );
    let out = refresh(dir.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("100.64.50.1/32") && !stdout.contains("100.64.60.1/32"),
        "the plan is the fetched one:\n{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ShapedDevices.csv")).expect("csv"),
        GOOD,
        "written for the operator to read"
    );
}

fn assert_kept(behaviour: Behaviour, body: &'static str, why: &str) {
    let dir = setup(serve(behaviour, body), "");
    let before = std::fs::read_to_string(dir.path().join("ShapedDevices.csv")).expect("csv");
    let started = Instant::now();
    let out = refresh(dir.path());
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the timeouts"
    );
    assert!(
        out.status.success(),
        "the refresh goes on with the last good inputs: {stderr}"
    );
    assert!(
        stderr.contains("integration http_import failed")
            && stderr.contains(why)
            && stderr.contains("kept the last good inputs"),
        "{why}: {stderr}"
    );
    assert!(
        stdout.contains("100.64.60.1/32"),
        "planned from the last good file"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ShapedDevices.csv")).expect("csv"),
        before,
        "untouched"
    );
    let logs = logs(dir.path());
    assert_eq!(logs.len(), 1, "one full report");
    assert!(std::fs::read_to_string(&logs[0])
        .expect("log")
        .contains(why));
}

#[test]
fn a_500_keeps_the_last_good_inputs() {
    assert_kept(Behaviour::Status500, GOOD, "HTTP 500");
}

#[test]
fn a_missing_token_is_an_http_error() {
    assert_kept(Behaviour::NeedsToken, GOOD, "HTTP 401");
}

#[test]
fn a_truncated_body_keeps_the_last_good_inputs() {
    assert_kept(Behaviour::Truncated, GOOD, "cannot fetch");
}

#[test]
fn an_export_that_does_not_validate_keeps_the_last_good_inputs() {
    assert_kept(Behaviour::Ok, NOT_CSV, "the output is invalid");
}

#[test]
fn a_slow_server_times_out() {
    assert_kept(Behaviour::Slow, GOOD, "timed out");
}

#[test]
fn a_server_that_never_answers_times_out() {
    assert_kept(Behaviour::Silent, GOOD, "timed out");
}

/// A CA and a certificate for 127.0.0.1 signed by it, made with the openssl command.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (package openssl) must be installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=lqos test CA",
    ]);
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// `openssl s_server -WWW` serving `dir` over HTTPS (a real TLS server); killed on drop.
struct TlsServer(std::process::Child, u16);

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tls_server(dir: &Path) -> TlsServer {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let child = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-WWW",
            "-accept",
            &port.to_string(),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsServer(child, port)
}

#[test]
fn https_with_the_operators_ca_and_without_it() {
    let certs = tempfile::tempdir().expect("tempdir");
    certificates(certs.path());
    std::fs::write(certs.path().join("ShapedDevices.csv"), GOOD).expect("export");
    let server = tls_server(certs.path());
    let url = format!("https://127.0.0.1:{}/ShapedDevices.csv", server.1);
    let with_ca = |ca: Option<&Path>| {
        let dir = setup(0, "");
        let conf = std::fs::read_to_string(dir.path().join("lqos.conf")).expect("conf");
        let mut conf = conf.replace("http://127.0.0.1:0/ShapedDevices.csv", &url);
        if let Some(ca) = ca {
            conf.push_str(&format!("ca_file = \"{}\"\n", ca.display()));
        }
        std::fs::write(dir.path().join("lqos.conf"), conf).expect("conf");
        dir
    };
    let trusted = with_ca(Some(&certs.path().join("ca.pem")));
    let out = refresh(trusted.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("100.64.50.1/32"),
        "fetched over TLS"
    );
    let untrusted = with_ca(None);
    let out = refresh(untrusted.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("integration http_import failed")
            && stderr.to_lowercase().contains("certificate"),
        "an unknown CA is refused: {stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("100.64.60.1/32"),
        "the last good inputs"
    );
}
