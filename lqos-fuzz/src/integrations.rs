//! The `integrations` target: the response bodies of a CRM, as the integration's client
//! decodes them, then its mapping, the merge into ShapedDevices.csv and network.json, and
//! the validation and planning of what was rendered, as `lqos-scheduler` does after an import.
//!
//! Not fuzzed here: the bodies of VISP's per-customer queries (backfill, IP lists) and Sonar's
//! SNMP answers (the walks' results reach the mapping as station lists, so Sonar is mapped
//! without an AP tree).
//!
//! An input is one selector byte (which CRM, modulo [`SOURCES`]) and then the bodies of that
//! CRM's calls, separated by [`SEPARATOR`]; a missing body is `[]`. A body that is not JSON of
//! the expected shape fails the whole import, as it does against the real API; everything
//! after that (one record at a time, its mapping, the rendering) must cope with any JSON.

use crate::validate_and_plan;
use lqos_config::integrations::Integrations;
use lqos_config::{Config, InputTexts};
use lqos_integrations::http::parse_json;
use lqos_integrations::sources::Defaults;
use lqos_integrations::{netzur, powercode, sonar, splynx, uisp, visp, wispgate, Import, Rendered};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// Separates the bodies of one input (ASCII's record separator: never in a JSON text).
pub const SEPARATOR: u8 = 0x1e;

/// The CRMs in selector order, with the number of bodies each reads.
pub const SOURCES: &[(&str, usize)] = &[
    ("uisp", 3),
    ("splynx", 8),
    ("netzur", 1),
    ("visp", 5),
    ("powercode", 2),
    ("sonar", 1),
    ("wispgate", 1),
];

/// Every integration enabled with its defaults (the URLs and secrets are never used).
const CONF: &str = r#"
[uisp_integration]
enable_uisp = true
token = "t"
url = "https://uisp.invalid"
strategy = "full"
suspended_strategy = "slow"
[splynx_integration]
enable_splynx = true
api_key = "k"
api_secret = "s"
url = "https://splynx.invalid"
strategy = "full"
[netzur_integration]
enable_netzur = true
api_key = "k"
api_url = "https://netzur.invalid/api"
[visp_integration]
enable_visp = true
client_id = "c"
client_secret = "s"
username = "u"
password = "p"
[powercode_integration]
enable_powercode = true
powercode_api_key = "k"
powercode_api_url = "https://powercode.invalid"
[sonar_integration]
enable_sonar = true
sonar_api_key = "k"
sonar_api_url = "https://sonar.invalid"
recurring_service_rates = [{enabled = true, service_name = "fiber 100", download_mbps = 100.0, upload_mbps = 100.0}]
[wispgate_integration]
enable_wispgate = true
wispgate_api_token = "t"
wispgate_api_url = "https://wispgate.invalid"
"#;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let text = format!("{}\n{CONF}", crate::ETC_CONF);
        match Config::parse(&text, "lqos.conf", Path::new("/etc/lqos")) {
            (Some(c), _) => c,
            (None, d) => panic!("the integrations' lqos.conf does not parse: {d:?}"),
        }
    })
}

/// The fuzz target.
pub fn integrations(data: &[u8]) {
    if let Some(rendered) = rendered(data) {
        validate_and_plan(&InputTexts {
            shaped_devices: &rendered.shaped_devices_csv,
            network: &rendered.network_json,
            overrides: None,
        });
    }
}

/// The files an input renders to, as an import would write them; `None` when a body would
/// have failed the import.
pub fn rendered(data: &[u8]) -> Option<Rendered> {
    let (&selector, rest) = data.split_first()?;
    let (name, count) = SOURCES[usize::from(selector) % SOURCES.len()];
    let mut bodies: Vec<&[u8]> = rest.splitn(count, |&b| b == SEPARATOR).collect();
    bodies.resize(count, b"[]");
    let import = import(
        name,
        &bodies,
        &config().integrations,
        Defaults::of(config()),
    )?;
    Some(lqos_integrations::render(&[import], &[]))
}

/// A list as the clients decode it: `None` when it is not a JSON array.
fn list(body: &[u8]) -> Option<Vec<Value>> {
    parse_json::<Vec<Value>>("fuzz", body).ok()
}

/// Decodes `bodies` as the integration's client does and maps them; `None` when a body would
/// have failed the import.
fn import(name: &str, bodies: &[&[u8]], i: &Integrations, d: Defaults) -> Option<Import> {
    let common = &i.common;
    let import = match name {
        "uisp" => uisp::map_raw(
            i.uisp.as_ref()?,
            common,
            d,
            uisp::api::Raw {
                sites: list(bodies[0])?,
                devices: list(bodies[1])?,
                links: list(bodies[2])?,
            },
        )
        .ok()?,
        "splynx" => splynx::map_raw(
            i.splynx.as_ref()?,
            common,
            splynx::api::Raw {
                tariffs: list(bodies[0])?,
                customers: list(bodies[1])?,
                online: list(bodies[2])?,
                services: list(bodies[3])?,
                routers: list(bodies[4])?,
                sectors: list(bodies[5])?,
                monitoring: list(bodies[6])?,
                network_sites: list(bodies[7])?,
            },
        ),
        "netzur" => netzur::map(
            i.netzur.as_ref()?,
            common,
            d,
            parse_json("fuzz", bodies[0]).ok()?,
        ),
        "visp" => visp::map(
            i.visp.as_ref()?,
            common,
            d,
            visp::Fetched {
                bulk: list(bodies[0])?,
                subscribers: list(bodies[1])?,
                online: list(bodies[2])?,
                assemblies: list(bodies[3])?,
                equipment: list(bodies[4])?,
                ..Default::default()
            },
        ),
        "powercode" => powercode::map(
            i.powercode.as_ref()?,
            common,
            list(bodies[0])?,
            list(bodies[1])?,
        ),
        "sonar" => sonar::map(i.sonar.as_ref()?, common, d, list(bodies[0])?, &[]),
        _ => wispgate::map(list(bodies[0])?),
    };
    Some(import)
}
