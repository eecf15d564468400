//! The integration tables of a LibreQoS v1.5 lqos.conf: read with LibreQoS's keys, defaults,
//! the dead keys warned about, both forms of `exception_cpes`, mistakes rejected.

use lqos_config::integrations::{Strategy, Suspended};
use lqos_config::{Config, Location, Severity};
use std::path::Path;

const BASE: &str = "[bridge]\nto_internet = \"a\"\nto_network = \"b\"\n";

fn parse(extra: &str) -> (Option<Config>, lqos_config::Diagnostics) {
    Config::parse(&format!("{BASE}{extra}"), "lqos.conf", Path::new("/etc"))
}

fn keys(d: &lqos_config::Diagnostics, s: Severity) -> Vec<String> {
    d.iter()
        .filter(|x| x.severity == s)
        .filter_map(|x| match &x.location {
            Location::Key(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_libreqos_uisp_table_is_read_as_is() {
    let (c, d) = parse(
        r#"
[integration_common]
queue_refresh_interval_mins = 15
client_bandwidth_multiplier = 1.2
[uisp_integration]
enable_uisp = true
token = "tok"
url = "https://uisp.example.net"
site = "Core"
strategy = "ap_site"
suspended_strategy = "slow"
airmax_capacity = 0.65
ltu_capacity = 0.9
exclude_sites = ["Lab"]
squash_sites = ["Relay"]
ipv6_with_mikrotik = false
bandwidth_overhead_factor = 1.15
commit_bandwidth_multiplier = 0.98
exception_cpes = ["cpe-1:Tower North", "cpe-2:Tower South"]
use_ptmp_as_parent = true
"#,
    );
    let c = c.unwrap_or_else(|| panic!("{d}"));
    let u = c.integrations.uisp.as_ref().expect("enabled");
    assert_eq!(u.strategy, Strategy::ApSite);
    assert_eq!(u.suspended, Suspended::Slow(0.1));
    assert_eq!(u.airmax_capacity, 0.65);
    assert_eq!(u.bandwidth_overhead_factor, 1.15);
    assert_eq!(u.commit_bandwidth_multiplier, 0.98);
    assert_eq!(
        u.options.refresh_interval_mins, 15,
        "default from integration_common"
    );
    assert_eq!(
        u.exception_cpes,
        vec![
            ("cpe-1".to_string(), "Tower North".to_string()),
            ("cpe-2".to_string(), "Tower South".to_string())
        ]
    );
    assert_eq!(c.integrations.common.client_bandwidth_multiplier, 1.2);
    let warned = keys(&d, Severity::Warning);
    for k in [
        "uisp_integration.ipv6_with_mikrotik",
        "uisp_integration.use_ptmp_as_parent",
    ] {
        assert!(warned.contains(&k.to_string()), "{k} not warned: {d}");
    }
    assert!(d.iter().any(|x| x.message.contains("not used")), "{d}");
}

#[test]
fn exception_cpes_as_tables_and_splynx_with_its_old_spelling() {
    let (c, d) = parse(
        r#"
[uisp_integration]
enable_uisp = false
exception_cpes = [{cpe = "cpe-9", parent = "site-id-1"}]
bandwidth_overhead_factor = 1.1
exclude_sites = ["Old Tower"]
[spylnx_integration]
enable_spylnx = true
api_key = "k"
api_secret = "s"
url = "https://splynx.example.net"
refresh_interval_mins = 5
"#,
    );
    let c = c.unwrap_or_else(|| panic!("{d}"));
    assert!(c.integrations.uisp.is_none());
    let s = c
        .integrations
        .splynx
        .as_ref()
        .expect("enabled via the misspelt table");
    assert_eq!(s.strategy, Strategy::ApSite, "LibreQoS's default");
    assert_eq!(s.options.refresh_interval_mins, 5);
    assert_eq!(s.shared.bandwidth_overhead_factor, 1.1);
    assert_eq!(s.shared.exclude_sites, vec!["Old Tower".to_string()]);
    assert_eq!(
        s.shared.exception_cpes,
        vec![("cpe-9".to_string(), "site-id-1".to_string())]
    );
    assert_eq!(c.integrations.enabled(), vec!["splynx"]);
}

#[test]
fn every_table_parses_and_mistakes_are_rejected_with_their_key() {
    let (c, d) = parse(
        r#"
[netzur_integration]
enable_netzur = true
api_key = "n"
api_url = "https://netzur.example.net/api/libreqos"
use_mikrotik_ipv6 = true
[visp_integration]
enable_visp = true
client_id = "id"
client_secret = "sec"
username = "u"
password = "p"
tenant_id = 3
[powercode_integration]
enable_powercode = true
powercode_api_key = "pc"
powercode_api_url = "https://pc.example.net"
[sonar_integration]
enable_sonar = true
sonar_api_url = "https://sonar.example.net"
sonar_api_key = "sk"
active_status_ids = [""]
[wispgate_integration]
enable_wispgate = true
wispgate_api_token = "w"
wispgate_api_url = "https://wg.example.net"
"#,
    );
    let c = c.unwrap_or_else(|| panic!("{d}"));
    assert_eq!(c.integrations.enabled().len(), 5);
    assert!(c
        .integrations
        .sonar
        .as_ref()
        .expect("sonar")
        .active_status_ids
        .is_empty());
    assert_eq!(
        c.integrations.visp.as_ref().expect("visp").token_url,
        "https://data.visp.net/token"
    );
    let warned = keys(&d, Severity::Warning);
    assert!(
        warned.contains(&"netzur_integration.use_mikrotik_ipv6".to_string()),
        "{d}"
    );
    assert!(
        warned.contains(&"visp_integration.tenant_id".to_string()),
        "{d}"
    );

    let (c, d) = parse(
        "[uisp_integration]\nenable_uisp = true\nurl = \"ftp://x\"\nstrategy = \"tree\"\nsuspended_strategy = \"nap\"\nexception_cpes = [\"no-colon\"]\nrefresh_interval_mins = 0\n[lqos_integrations]\nrefuse_below_ratio = 2.0\n",
    );
    assert!(c.is_none() || d.rejects());
    let rejected = keys(&d, Severity::Reject);
    for k in [
        "uisp_integration.url",
        "uisp_integration.strategy",
        "uisp_integration.suspended_strategy",
        "uisp_integration.exception_cpes",
        "uisp_integration.refresh_interval_mins",
        "uisp_integration.token",
        "lqos_integrations.refuse_below_ratio",
    ] {
        assert!(rejected.contains(&k.to_string()), "{k} not rejected: {d}");
    }

    let (c, d) = parse("[http_import]\nshaped_devices_url = \"https://x/sd.csv\"\n[wispgate_integration]\nenable_wispgate = true\nwispgate_api_url = \"https://wg\"\n");
    assert!(
        (c.is_none() || d.rejects())
            && keys(&d, Severity::Reject).contains(&"http_import".to_string()),
        "{d}"
    );
}
