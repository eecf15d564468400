#![allow(dead_code)]
//! Shared by the integration tests: the test API server, the invented data, configs.

pub use lqos_integrations::testkit::{server, uisp_data};

use lqos_config::Config;
use std::path::Path;

/// A config with `tables` whose lqos_directory and state_directory are under `dir`.
pub fn config(dir: &Path, tables: &str) -> Config {
    let text = format!(
        "lqos_directory = \"{d}/lqos\"\nstate_directory = \"{d}/state\"\n[bridge]\nto_internet = \"eth0\"\nto_network = \"eth1\"\n[queues]\ngenerated_pn_download_mbps = 500\ngenerated_pn_upload_mbps = 500\n[lqos_integrations]\nrequest_timeout_secs = 1\nconnect_timeout_secs = 1\nrun_timeout_secs = 20\nretries = 1\nmax_response_mb = 1\n{tables}",
        d = dir.display()
    );
    std::fs::create_dir_all(dir.join("lqos")).expect("mkdir");
    let (c, d) = Config::parse(&text, "lqos.conf", dir);
    assert!(!d.rejects(), "{d}");
    c.expect("config")
}
