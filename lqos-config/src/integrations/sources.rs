//! The typed settings of each CRM/NMS integration, built from its lqos.conf table.

use super::raw::*;
use super::{Checker, IntegrationCommon};
use std::path::PathBuf;

/// What every integration has besides its own keys (lqos additions).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOptions {
    /// How often it runs, in minutes (`refresh_interval_mins`; default
    /// `[integration_common] queue_refresh_interval_mins`).
    pub refresh_interval_mins: u32,
    /// Extra CA certificates (PEM) trusted for this source.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (LibreQoS's `insecure_ssl = true` / `verify_tls = false`).
    pub insecure_tls: bool,
    /// A per-request timeout of the source's own table (`timeout_secs`), in seconds.
    pub timeout_secs: Option<u64>,
}

/// How the UISP tree is projected into network.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// No network.json nodes; every circuit unparented.
    Flat,
    /// APs only, each with its circuits.
    ApOnly,
    /// Each AP under its own site (sites flat).
    ApSite,
    /// The whole site/backhaul/AP tree.
    Full,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Strategy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "flat" => Some(Strategy::Flat),
            "ap_only" => Some(Strategy::ApOnly),
            "ap_site" => Some(Strategy::ApSite),
            "full" | "full2" => Some(Strategy::Full),
            _ => None,
        }
    }
}

/// What happens to a suspended UISP client.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Suspended {
    /// Shaped at its plan as if not suspended (LibreQoS `none`/empty).
    None,
    /// Not imported (reported as skipped).
    Ignore,
    /// Shaped at this rate in Mbps, both directions (LibreQoS: 0.1).
    Slow(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Uisp {
    pub options: SourceOptions,
    pub token: String,
    pub url: String,
    /// Root site name; empty: auto-detected from UISP's Internet data link.
    pub site: String,
    pub strategy: Strategy,
    pub suspended: Suspended,
    pub airmax_capacity: f64,
    pub airmax_flexible_frame_download_ratio: f64,
    pub ltu_capacity: f64,
    pub exclude_sites: Vec<String>,
    pub squash_sites: Vec<String>,
    /// (CPE hostname, parent: a site or AP name or UISP id).
    pub exception_cpes: Vec<(String, String)>,
    pub bandwidth_overhead_factor: f64,
    pub commit_bandwidth_multiplier: f64,
    pub ignore_calculated_capacity: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Splynx {
    pub options: SourceOptions,
    pub api_key: String,
    pub api_secret: String,
    pub url: String,
    pub strategy: Strategy,
    /// From `[uisp_integration]`, as LibreQoS reads them for every Python integration.
    pub shared: SharedUispKeys,
}

/// `[uisp_integration]` keys LibreQoS's Python integrations read too.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedUispKeys {
    pub exclude_sites: Vec<String>,
    pub exception_cpes: Vec<(String, String)>,
    pub bandwidth_overhead_factor: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Netzur {
    pub options: SourceOptions,
    pub api_key: String,
    pub api_url: String,
    pub shared: SharedUispKeys,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Visp {
    pub options: SourceOptions,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    pub isp_id: Option<i64>,
    pub online_users_domain: Option<String>,
    pub token_url: String,
    pub graphql_url: String,
    pub shared: SharedUispKeys,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Powercode {
    pub options: SourceOptions,
    pub api_key: String,
    /// The host base, without the `:444` LibreQoS appends (an URL with a port is kept as is).
    pub api_url: String,
    pub shared: SharedUispKeys,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecurringRate {
    pub service_name: String,
    pub download_mbps: f64,
    pub upload_mbps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sonar {
    pub options: SourceOptions,
    pub api_url: String,
    pub api_key: String,
    pub snmp_community: String,
    /// lqos addition: the APs' SNMP port (161).
    pub snmp_port: u16,
    /// lqos addition: seconds to wait for one SNMP answer (2, 1..=30).
    pub snmp_timeout_secs: u64,
    pub airmax_model_ids: Vec<String>,
    pub ltu_model_ids: Vec<String>,
    pub active_status_ids: Vec<String>,
    pub recurring_service_rates: Vec<RecurringRate>,
    pub recurring_excluded_service_names: Vec<String>,
    pub strategy: Strategy,
    pub shared: SharedUispKeys,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WispGate {
    pub options: SourceOptions,
    pub api_token: String,
    pub api_url: String,
}

/// The integration tables as read.
#[derive(Default)]
pub(crate) struct RawTables {
    pub uisp: Option<RawUisp>,
    pub splynx: Option<RawSplynx>,
    pub netzur: Option<RawNetzur>,
    pub visp: Option<RawVisp>,
    pub powercode: Option<RawPowercode>,
    pub sonar: Option<RawSonar>,
    pub wispgate: Option<RawWispGate>,
    /// `[topology] compile_mode` (LibreQoS v2): wins over a table's `strategy`.
    pub compile_mode: Option<String>,
}

pub(super) fn exceptions(raw: Option<RawExceptions>, c: &mut Checker) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match raw {
        None => {}
        Some(RawExceptions::Table(t)) => out.extend(t),
        Some(RawExceptions::List(items)) => {
            for item in items {
                match item {
                    RawException::Pair { cpe, parent } => out.push((cpe, parent)),
                    RawException::Text(t) => match t.split_once(':') {
                        Some((cpe, parent)) if !cpe.trim().is_empty() => {
                            out.push((cpe.trim().to_owned(), parent.trim().to_owned()))
                        }
                        _ => c.reject(
                            "uisp_integration.exception_cpes",
                            &t,
                            "expected \"cpe:parent\" or {cpe = \"...\", parent = \"...\"}",
                        ),
                    },
                }
            }
        }
    }
    out
}

pub(super) fn options(
    c: &mut Checker,
    table: &str,
    interval: Option<u32>,
    ca_file: Option<PathBuf>,
    insecure: bool,
    timeout_secs: Option<u64>,
    common: &IntegrationCommon,
) -> SourceOptions {
    let key = format!("{table}.refresh_interval_mins");
    let refresh_interval_mins = c.minutes(&key, interval, common.queue_refresh_interval_mins);
    if let Some(ca) = ca_file.as_ref().filter(|p| !p.is_file()) {
        c.reject(
            &format!("{table}.ca_file"),
            ca.display(),
            "expected a readable PEM file of CA certificates",
        );
    }
    SourceOptions {
        refresh_interval_mins,
        ca_file,
        insecure_tls: insecure,
        timeout_secs,
    }
}

pub(super) fn strategy(
    c: &mut Checker,
    key: &str,
    text: Option<&str>,
    default: Strategy,
) -> Strategy {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => default,
        Some(t) => Strategy::parse(t).unwrap_or_else(|| {
            c.reject(
                key,
                t,
                "expected \"flat\", \"ap_only\", \"ap_site\" or \"full\"",
            );
            default
        }),
    }
}

fn compile_mode(tables: &RawTables, c: &mut Checker) -> Option<Strategy> {
    let text = tables.compile_mode.as_deref()?.trim();
    if text.is_empty() {
        return None;
    }
    let s = Strategy::parse(text);
    if s.is_none() {
        c.reject(
            "topology.compile_mode",
            text,
            "expected \"flat\", \"ap_only\", \"ap_site\" or \"full\"",
        );
    }
    s
}

pub(crate) struct Built {
    pub uisp: Option<Uisp>,
    pub splynx: Option<Splynx>,
    pub netzur: Option<Netzur>,
    pub visp: Option<Visp>,
    pub powercode: Option<Powercode>,
    pub sonar: Option<Sonar>,
    pub wispgate: Option<WispGate>,
}

pub(crate) fn build_sources(
    mut tables: RawTables,
    common: &IntegrationCommon,
    c: &mut Checker,
) -> Built {
    let mode = compile_mode(&tables, c);
    let raw_uisp = tables.uisp.take().unwrap_or_default();
    let shared = SharedUispKeys {
        exclude_sites: raw_uisp.exclude_sites.clone().unwrap_or_default(),
        exception_cpes: Vec::new(),
        bandwidth_overhead_factor: c.factor(
            "uisp_integration.bandwidth_overhead_factor",
            raw_uisp.bandwidth_overhead_factor,
            1.0,
            None,
        ),
    };
    let (uisp, cpes) =
        super::sources_uisp::build(raw_uisp, mode, common, shared.bandwidth_overhead_factor, c);
    let shared = SharedUispKeys {
        exception_cpes: cpes,
        ..shared
    };
    let t = "splynx_integration";
    let splynx = tables.splynx.take().and_then(|r| {
        (r.enable_splynx.or(r.enable_spylnx) == Some(true)).then(|| Splynx {
            options: options(
                c,
                t,
                r.refresh_interval_mins,
                r.ca_file,
                false,
                None,
                common,
            ),
            api_key: r.api_key.unwrap_or_default(),
            api_secret: r.api_secret.unwrap_or_default(),
            url: c.url("splynx_integration.url", r.url, true),
            strategy: mode.unwrap_or_else(|| {
                strategy(
                    c,
                    "splynx_integration.strategy",
                    r.strategy.as_deref(),
                    Strategy::ApSite,
                )
            }),
            shared: shared.clone(),
        })
    });
    let netzur = tables.netzur.take().and_then(|r| {
        c.unused(
            "netzur_integration.use_mikrotik_ipv6",
            &r.use_mikrotik_ipv6,
            "LibreQoS reads [integration_common] use_mikrotik_ipv6, not this key",
        );
        (r.enable_netzur == Some(true)).then(|| Netzur {
            options: options(
                c,
                "netzur_integration",
                r.refresh_interval_mins,
                r.ca_file,
                false,
                Some(r.timeout_secs.unwrap_or(60).max(5)),
                common,
            ),
            api_key: r.api_key.unwrap_or_default(),
            api_url: c.url("netzur_integration.api_url", r.api_url, true),
            shared: shared.clone(),
        })
    });
    let visp = tables.visp.take().and_then(|r| {
        c.unused(
            "visp_integration.tenant_id",
            &r.tenant_id,
            "LibreQoS never reads it",
        );
        c.unused(
            "visp_integration.strategy",
            &r.strategy,
            "VISP is always imported with its full topology",
        );
        c.unused(
            "visp_integration.service_type_allowlist",
            &r.service_type_allowlist,
            "only WiFi services carry speeds in the VISP API",
        );
        let env = |k: &str, v: Option<String>| std::env::var(k).ok().or(v).unwrap_or_default();
        (r.enable_visp == Some(true)).then(|| Visp {
            options: options(
                c,
                "visp_integration",
                r.refresh_interval_mins,
                r.ca_file,
                r.verify_tls == Some(false),
                Some(r.timeout_secs.unwrap_or(20).max(10)),
                common,
            ),
            client_id: env("VISP_CLIENT_ID", r.client_id),
            client_secret: env("VISP_CLIENT_SECRET", r.client_secret),
            username: env("VISP_USERNAME", r.username),
            password: env("VISP_PASSWORD", r.password),
            isp_id: r.isp_id,
            online_users_domain: r.online_users_domain.filter(|d| !d.trim().is_empty()),
            token_url: c.url(
                "visp_integration.token_url",
                Some(
                    r.token_url
                        .unwrap_or_else(|| "https://data.visp.net/token".into()),
                ),
                true,
            ),
            graphql_url: c.url(
                "visp_integration.graphql_url",
                Some(
                    r.graphql_url
                        .unwrap_or_else(|| "https://integrations.visp.net/graphql".into()),
                ),
                true,
            ),
            shared: shared.clone(),
        })
    });
    let powercode = tables.powercode.take().and_then(|r| {
        (r.enable_powercode == Some(true)).then(|| Powercode {
            // LibreQoS never verifies Powercode's certificate; lqos does unless told not to.
            options: options(
                c,
                "powercode_integration",
                r.refresh_interval_mins,
                r.ca_file,
                r.verify_tls == Some(false),
                None,
                common,
            ),
            api_key: r.powercode_api_key.unwrap_or_default(),
            api_url: c.url(
                "powercode_integration.powercode_api_url",
                r.powercode_api_url,
                true,
            ),
            shared: shared.clone(),
        })
    });
    let sonar = tables.sonar.take().and_then(|r| {
        (r.enable_sonar == Some(true)).then(|| {
            let ids = |v: Option<Vec<String>>| -> Vec<String> {
                // lqos.example ships `[ "" ]`: an empty string is no id.
                v.unwrap_or_default()
                    .into_iter()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            };
            Sonar {
                options: options(
                    c,
                    "sonar_integration",
                    r.refresh_interval_mins,
                    r.ca_file,
                    false,
                    None,
                    common,
                ),
                api_url: c.url("sonar_integration.sonar_api_url", r.sonar_api_url, true),
                api_key: r.sonar_api_key.unwrap_or_default(),
                snmp_community: r.snmp_community.unwrap_or_else(|| "public".into()),
                snmp_port: r.snmp_port.unwrap_or(161),
                snmp_timeout_secs: r.snmp_timeout_secs.unwrap_or(2).clamp(1, 30),
                airmax_model_ids: ids(r.airmax_model_ids),
                ltu_model_ids: ids(r.ltu_model_ids),
                active_status_ids: ids(r.active_status_ids),
                recurring_service_rates: r
                    .recurring_service_rates
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|x| x.enabled != Some(false))
                    .map(|x| RecurringRate {
                        service_name: x.service_name,
                        download_mbps: x.download_mbps,
                        upload_mbps: x.upload_mbps,
                    })
                    .collect(),
                recurring_excluded_service_names: r
                    .recurring_excluded_service_names
                    .unwrap_or_default(),
                strategy: match mode {
                    Some(Strategy::Flat) => Strategy::Flat,
                    _ => Strategy::Full,
                },
                shared: shared.clone(),
            }
        })
    });
    let wispgate = tables.wispgate.take().and_then(|r| {
        (r.enable_wispgate == Some(true)).then(|| WispGate {
            options: options(
                c,
                "wispgate_integration",
                r.refresh_interval_mins,
                r.ca_file,
                false,
                None,
                common,
            ),
            api_token: r.wispgate_api_token.unwrap_or_default(),
            api_url: c.url(
                "wispgate_integration.wispgate_api_url",
                r.wispgate_api_url,
                true,
            ),
        })
    });
    Built {
        uisp,
        splynx,
        netzur,
        visp,
        powercode,
        sonar,
        wispgate,
    }
}
