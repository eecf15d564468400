//! The Grafana dashboard (`etc/grafana/lqos.json`) against a real Prometheus: Debian's
//! `prometheus` scrapes the real lqosd's `/metrics` on loopback in the shaper's namespace, and
//! every PromQL expression and template-variable query of the dashboard returns data.

use anyhow::{bail, ensure, Context, Result};
use lqos_e2e::bed::*;
use lqos_e2e::testbed::{device_row, Testbed};
use lqos_e2e::{etc_path, require_root};
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::Duration;

const PROMETHEUS: &str = "127.0.0.1:9090";

/// Prometheus in the shaper's namespace, killed on drop.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_prometheus(tb: &Testbed) -> Result<Prometheus> {
    ensure!(
        std::process::Command::new("prometheus")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "Debian's prometheus is not installed (scripts/setup.sh installs it)"
    );
    let config = tb.dir.write(
        "prometheus.yml",
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: lqos\n    static_configs:\n      - targets: ['127.0.0.1:9123']\n",
    )?;
    let log = std::fs::File::create(tb.dir.join("prometheus.log"))?;
    let child = tb
        .shaper
        .command(
            "prometheus",
            &[
                &format!("--config.file={}", config.display()),
                &format!("--storage.tsdb.path={}", tb.dir.join("tsdb").display()),
                &format!("--web.listen-address={PROMETHEUS}"),
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("cannot start prometheus")?;
    Ok(Prometheus(child))
}

/// GET `path` with `params` from Prometheus's HTTP API; the `data` of a successful answer.
fn api(tb: &Testbed, path: &str, params: &[(&str, &str)]) -> Result<Value> {
    let url = format!("http://{PROMETHEUS}{path}");
    let mut args = vec!["-sS", "--max-time", "5", "-G", url.as_str()];
    let encoded: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for p in &encoded {
        args.extend(["--data-urlencode", p.as_str()]);
    }
    let out = tb.shaper.run("curl", &args)?;
    let v: Value =
        serde_json::from_str(&out).with_context(|| format!("{path} {params:?}: {out}"))?;
    ensure!(v["status"] == "success", "{path} {params:?}: {out}");
    Ok(v["data"].clone())
}

/// Grafana's variables as a test of every shaper: all jobs, all instances.
fn unvariable(expr: &str) -> String {
    expr.replace("$instance", ".*").replace("$job", ".*")
}

#[test]
fn every_query_of_the_grafana_dashboard_returns_data_from_a_real_prometheus() -> Result<()> {
    require_root();
    let _one = serial();
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(etc_path("grafana/lqos.json"))?)?;
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .context("panels")?
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| {
            t["expr"]
                .as_str()
                .map(str::to_owned)
                .context("a target without expr")
        })
        .collect::<Result<_>>()?;
    ensure!(
        exprs.len() >= 10,
        "the dashboard has its queries: {exprs:?}"
    );

    let rows = [device_row("P", "Site", "100.64.4.1", "", 20.0, 5.0)];
    let mut tb = shaped("prom", &rows, &["100.64.4.1/16"])?;
    tb.start_scheduler_service()?;
    let _prometheus = start_prometheus(&tb)?;
    let flow = tb.start_flow("100.64.4.1", false, 6)?;
    // Scraped, with the scheduler's report and the flow's traffic in the samples.
    let ready = wait_until(Duration::from_secs(30), || {
        let q = |e: &str| api(&tb, "/api/v1/query", &[("query", e)]);
        Ok(q("up{job=\"lqos\"} == 1")
            .is_ok_and(|d| d["result"].as_array().is_some_and(|r| !r.is_empty()))
            && q("lqos_scheduler_up == 1")
                .is_ok_and(|d| d["result"].as_array().is_some_and(|r| !r.is_empty()))
            && q("max_over_time(lqos_throughput_bps{direction=\"down\"}[1m]) > 5e6")
                .is_ok_and(|d| d["result"].as_array().is_some_and(|r| !r.is_empty())))
    })?;
    flow.finish()?;
    if !ready {
        bail!(
            "Prometheus never saw lqosd up, the scheduler up and the flow's traffic:\n{}",
            std::fs::read_to_string(tb.dir.join("prometheus.log")).unwrap_or_default()
        );
    }
    for expr in &exprs {
        let data = api(&tb, "/api/v1/query", &[("query", &unvariable(expr))])?;
        let result = data["result"].as_array().context("result")?;
        eprintln!(
            "{expr}: {} series, first {}",
            result.len(),
            result.first().map_or(Value::Null, |r| r["value"].clone())
        );
        ensure!(!result.is_empty(), "{expr} returned no data: {data}");
    }
    // Template variables: Grafana's label_values(SELECTOR, LABEL).
    for var in dashboard["templating"]["list"]
        .as_array()
        .context("templating")?
    {
        let Some(def) = var["definition"].as_str() else {
            continue;
        };
        let inner = def
            .strip_prefix("label_values(")
            .and_then(|d| d.strip_suffix(')'))
            .with_context(|| format!("unexpected variable query {def}"))?;
        let (selector, label) = inner
            .rsplit_once(',')
            .context("label_values(selector, label)")?;
        let data = api(
            &tb,
            &format!("/api/v1/label/{}/values", label.trim()),
            &[("match[]", &unvariable(selector.trim()))],
        )?;
        ensure!(
            data.as_array().is_some_and(|v| !v.is_empty()),
            "variable {def} has no values: {data}"
        );
    }
    Ok(())
}
