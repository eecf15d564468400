//! `/etc/lqos.conf`: the LibreQoS v1.5 keys lqos supports, plus lqos's own `[lqosd]` table.
//!
//! Unknown keys are warnings, never fatal; keys LibreQoS has but lqos does not use are named as
//! such so an operator bringing a LibreQoS file sees what is ignored.

use crate::diagnostics::{line_col, Diagnostic, Diagnostics, Location, Severity};
use ipnet::IpNet;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the config is read from when neither `--config` nor `LQOS_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/lqos.conf";

/// The validated configuration, loaded once in `main` and passed down.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where ShapedDevices.csv, network.json and lqos_overrides.json live.
    pub lqos_directory: PathBuf,
    /// Where lqos keeps its own state (previous plan's class ids, logs).
    pub state_directory: PathBuf,
    pub node_name: String,
    pub webserver_listen: String,
    pub interfaces: Interfaces,
    pub queues: Queues,
    pub queue_refresh_interval_mins: u32,
    pub ip_ranges: IpRanges,
    pub lqosd: Lqosd,
    /// `[http_import]`, when enabled.
    pub http_import: Option<crate::http_import::HttpImport>,
    /// `[fleet]`, when this box is one of several coordinated through etcd.
    pub fleet: Option<crate::fleet::Fleet>,
    /// The CRM/NMS integrations (`[uisp_integration]`, ...) and their shared settings.
    pub integrations: crate::integrations::Integrations,
    /// `[flows]`: flow, RTT and QoO telemetry.
    pub flows: crate::flows::Flows,
    /// `[geo]`: the offline ASN/country tables and map data.
    pub geo: crate::geo::Geo,
}

/// Which interfaces are shaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Interfaces {
    /// Two interfaces: download is shaped leaving `to_network`, upload leaving `to_internet`.
    Bridge {
        to_internet: String,
        to_network: String,
    },
    /// One interface carrying both directions on two VLANs; its queues are split in half.
    OnAStick {
        interface: String,
        internet_vlan: u16,
        network_vlan: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueMode {
    Shape,
    /// Count traffic without shaping (LibreQoS `monitor_only = true`).
    Observe,
}

/// `[queues]`; bandwidths are Mbps.
#[derive(Debug, Clone, PartialEq)]
pub struct Queues {
    /// The leaf qdisc written after `qdisc add ... parent X:Y` (`none`: no leaf qdisc).
    pub default_sqm: String,
    pub queue_mode: QueueMode,
    /// Towards the Internet (upload capacity).
    pub uplink_bandwidth_mbps: f64,
    /// Towards the subscribers (download capacity).
    pub downlink_bandwidth_mbps: f64,
    pub generated_pn_download_mbps: f64,
    pub generated_pn_upload_mbps: f64,
    pub dry_run: bool,
    pub override_available_queues: Option<u16>,
    pub use_binpacking: bool,
    /// Circuits whose max rate in a direction is at or above this get `fq_codel` there.
    pub fast_queues_fq_codel: Option<f64>,
    /// Which parts of a circuit's queue lqosd builds only once the circuit carries traffic.
    pub lazy: LazyQueues,
}

/// `[queues] lazy_queues`, `lazy_expire_seconds`, `lazy_threshold_bytes` (LibreQoS's keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LazyQueues {
    pub mode: LazyMode,
    /// Idle time after which a built circuit collapses again; `None` (0 in lqos.conf): never.
    pub expire: Option<std::time::Duration>,
    /// Bytes a circuit must carry (both ways, within one counter sample) to count as active.
    pub threshold_bytes: u64,
}

impl Default for LazyQueues {
    fn default() -> Self {
        Self {
            mode: LazyMode::No,
            expire: Some(std::time::Duration::from_secs(600)),
            threshold_bytes: 0,
        }
    }
}

/// What lqosd leaves out of the kernel until a circuit carries traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LazyMode {
    /// Everything is built at once.
    #[default]
    No,
    /// Every HTB class is built; a circuit's leaf qdisc only once it is active.
    Htb,
    /// A circuit's class (and leaf) only once it is active; until then its packets share a
    /// pool class under its parent node, within the parent's limits.
    Full,
}

/// `[ip_ranges]`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IpRanges {
    /// Addresses inside these are dropped from circuits.
    pub ignore_subnets: Vec<IpNet>,
    /// When it names prefixes of a family, addresses of that family outside them are dropped.
    pub allow_subnets: Vec<IpNet>,
}

/// `[lqosd]`: lqos's own settings for the daemon (not LibreQoS keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Lqosd {
    pub bus_socket: PathBuf,
    pub bpf_pin_dir: PathBuf,
    /// Most prefixes the kernel IP map holds; a plan needing more is refused before applying.
    pub ip_map_capacity: u32,
    /// How XDP is attached to the shaped interfaces.
    pub xdp_mode: XdpMode,
}

/// `[lqosd] xdp_mode`: native (driver) XDP or generic (skb) XDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Native, except on drivers whose native XDP redirect into a cpumap drops packets with
    /// checksum offload pending (veth): generic there, with a warning.
    #[default]
    Auto,
    /// Native everywhere (falling back to generic only where the driver refuses native XDP).
    /// On veth, every sender must compute checksums in software (`ethtool -K DEV tx off`).
    Native,
    /// Generic everywhere (slower; works on any driver).
    Generic,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is invalid:\n{diagnostics}")]
    Invalid {
        path: PathBuf,
        diagnostics: Diagnostics,
    },
}

#[derive(Debug, Deserialize, Default)]
struct RawConfig {
    lqos_directory: Option<PathBuf>,
    state_directory: Option<PathBuf>,
    node_name: Option<String>,
    webserver_listen: Option<String>,
    bridge: Option<RawBridge>,
    single_interface: Option<RawSingle>,
    #[serde(default)]
    queues: RawQueues,
    #[serde(default)]
    integration_common: crate::integrations::RawCommon,
    #[serde(default)]
    lqos_integrations: crate::integrations::RawLimits,
    uisp_integration: Option<crate::integrations::RawUisp>,
    splynx_integration: Option<crate::integrations::RawSplynx>,
    spylnx_integration: Option<crate::integrations::RawSplynx>,
    netzur_integration: Option<crate::integrations::RawNetzur>,
    visp_integration: Option<crate::integrations::RawVisp>,
    powercode_integration: Option<crate::integrations::RawPowercode>,
    sonar_integration: Option<crate::integrations::RawSonar>,
    wispgate_integration: Option<crate::integrations::RawWispGate>,
    #[serde(default)]
    topology: RawTopology,
    #[serde(default)]
    ip_ranges: RawIpRanges,
    #[serde(default)]
    lqosd: RawLqosd,
    http_import: Option<crate::http_import::RawHttpImport>,
    fleet: Option<crate::fleet::RawFleet>,
    flows: Option<crate::flows::RawFlows>,
    geo: Option<crate::geo::RawGeo>,
}

#[derive(Debug, Deserialize)]
struct RawBridge {
    to_internet: String,
    to_network: String,
}

#[derive(Debug, Deserialize)]
struct RawSingle {
    interface: String,
    internet_vlan: u16,
    network_vlan: u16,
}

#[derive(Debug, Deserialize, Default)]
struct RawQueues {
    default_sqm: Option<String>,
    queue_mode: Option<String>,
    monitor_only: Option<bool>,
    uplink_bandwidth_mbps: Option<f64>,
    downlink_bandwidth_mbps: Option<f64>,
    generated_pn_download_mbps: Option<f64>,
    generated_pn_upload_mbps: Option<f64>,
    dry_run: Option<bool>,
    override_available_queues: Option<u32>,
    use_binpacking: Option<bool>,
    fast_queues_fq_codel: Option<f64>,
    lazy_queues: Option<String>,
    lazy_expire_seconds: Option<u64>,
    lazy_threshold_bytes: Option<u64>,
}

/// `[topology]` (LibreQoS v2): only `compile_mode` is read.
#[derive(Debug, Deserialize, Default)]
struct RawTopology {
    compile_mode: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct RawIpRanges {
    #[serde(default)]
    ignore_subnets: Vec<String>,
    #[serde(default)]
    allow_subnets: Vec<String>,
}

#[derive(Debug, Deserialize, Default)]
struct RawLqosd {
    bus_socket: Option<PathBuf>,
    bpf_pin_dir: Option<PathBuf>,
    ip_map_capacity: Option<u32>,
    xdp_mode: Option<String>,
}

/// Keys LibreQoS has that lqos reads but does not act on (yet): named in the warning.
const LIBREQOS_ONLY: &[&str] = &[
    "version",
    "node_id",
    "packet_capture_time",
    "queue_check_period_ms",
    "disable_webserver",
    "disable_icmp_ping",
    "enable_circuit_heatmaps",
    "enable_site_heatmaps",
    "usage_stats",
    "tuning",
    "long_term_stats",
    "influxdb",
    "bridge.use_xdp_bridge",
    "queues.sudo",
    "topology",
    "ip_ranges.unknown_ip_honors_ignore",
    "ip_ranges.unknown_ip_honors_allow",
];

fn is_integration_table(key: &str) -> bool {
    let top = key.split('.').next().unwrap_or(key);
    top.ends_with("_integration")
}

impl Config {
    /// The bus socket an operator tool (`lqos`, `lqtop`) talks to: `socket` when given (then
    /// lqos.conf is not read), otherwise `[lqosd] bus_socket` of the lqos.conf at `path`.
    pub fn bus_socket(path: &Path, socket: Option<PathBuf>) -> Result<PathBuf, ConfigError> {
        match socket {
            Some(s) => Ok(s),
            None => Ok(Self::load(path)?.0.lqosd.bus_socket),
        }
    }

    /// Reads and validates a config file. Relative directories are resolved against the
    /// config file's own directory. Warnings come back with the config; errors are fatal.
    pub fn load(path: &Path) -> Result<(Config, Diagnostics), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let name = path.display().to_string();
        let (config, diagnostics) = Self::parse(&text, &name, base);
        match config {
            Some(c) if !diagnostics.rejects() => Ok((c, diagnostics)),
            _ => Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                diagnostics,
            }),
        }
    }

    /// Parses config text. `base` resolves relative directories. Returns `None` with at least
    /// one [`Severity::Reject`] diagnostic when the text cannot be used.
    pub fn parse(text: &str, file: &str, base: &Path) -> (Option<Config>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let mut ignored = Vec::new();
        let deserializer = toml::Deserializer::new(text);
        let raw: RawConfig = match serde_ignored::deserialize(deserializer, |p| {
            ignored.push(p.to_string().replace(".?", ""))
        }) {
            Ok(raw) => raw,
            Err(e) => {
                diags.push(toml_error(file, text, &e));
                return (None, diags);
            }
        };
        for key in ignored {
            let known = LIBREQOS_ONLY
                .iter()
                .any(|k| key == *k || key.starts_with(&format!("{k}.")));
            let message = if known || is_integration_table(&key) {
                "LibreQoS setting not used by lqos (ignored)"
            } else {
                "unknown key (ignored): check the spelling against etc/lqos.conf"
            };
            diags.push(Diagnostic::new(
                Severity::Warning,
                file,
                Location::Key(key),
                message,
            ));
        }
        let config = build(raw, file, base, &mut diags);
        (config, diags)
    }
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let location = match e.span() {
        Some(span) => {
            let (line, column) = line_col(text, span.start);
            Location::Line {
                line,
                column: Some(column),
            }
        }
        None => Location::File,
    };
    Diagnostic::new(
        Severity::Reject,
        file,
        location,
        e.message().trim().to_string(),
    )
}

fn build(raw: RawConfig, file: &str, base: &Path, diags: &mut Diagnostics) -> Option<Config> {
    let mut reject = |key: &str, value: String, message: &str| {
        diags.push(
            Diagnostic::new(Severity::Reject, file, Location::Key(key.into()), message)
                .value(value),
        )
    };
    let interfaces = match (raw.bridge, raw.single_interface) {
        (Some(b), None) => {
            for (key, name) in [
                ("bridge.to_internet", &b.to_internet),
                ("bridge.to_network", &b.to_network),
            ] {
                if let Err(why) = check_ifname(name) {
                    reject(key, name.clone(), why);
                }
            }
            if b.to_internet == b.to_network {
                reject(
                    "bridge.to_network",
                    b.to_network.clone(),
                    "must differ from to_internet (for one interface use [single_interface])",
                );
            }
            Some(Interfaces::Bridge {
                to_internet: b.to_internet,
                to_network: b.to_network,
            })
        }
        (None, Some(s)) => {
            if let Err(why) = check_ifname(&s.interface) {
                reject("single_interface.interface", s.interface.clone(), why);
            }
            for (key, vlan) in [
                ("single_interface.internet_vlan", s.internet_vlan),
                ("single_interface.network_vlan", s.network_vlan),
            ] {
                if vlan == 0 || vlan > 4094 {
                    reject(key, vlan.to_string(), "expected a VLAN id from 1 to 4094");
                }
            }
            if s.internet_vlan == s.network_vlan {
                reject(
                    "single_interface.network_vlan",
                    s.network_vlan.to_string(),
                    "must differ from internet_vlan",
                );
            }
            Some(Interfaces::OnAStick {
                interface: s.interface,
                internet_vlan: s.internet_vlan,
                network_vlan: s.network_vlan,
            })
        }
        (Some(_), Some(_)) => {
            reject(
                "single_interface",
                String::new(),
                "[bridge] and [single_interface] are both set: keep exactly one",
            );
            None
        }
        (None, None) => {
            reject(
                "bridge",
                String::new(),
                "no interfaces: set [bridge] to_internet/to_network or [single_interface]",
            );
            None
        }
    };

    let q = raw.queues;
    let mut mbps = |key: &str, v: Option<f64>, default: f64| -> f64 {
        let v = v.unwrap_or(default);
        if !(v.is_finite() && v > 0.0) {
            reject(
                key,
                v.to_string(),
                "expected a bandwidth in Mbps greater than 0",
            );
        }
        v
    };
    let uplink = mbps(
        "queues.uplink_bandwidth_mbps",
        q.uplink_bandwidth_mbps,
        1000.0,
    );
    let downlink = mbps(
        "queues.downlink_bandwidth_mbps",
        q.downlink_bandwidth_mbps,
        1000.0,
    );
    let pn_down = mbps(
        "queues.generated_pn_download_mbps",
        q.generated_pn_download_mbps,
        downlink,
    );
    let pn_up = mbps(
        "queues.generated_pn_upload_mbps",
        q.generated_pn_upload_mbps,
        uplink,
    );
    let fast = q.fast_queues_fq_codel.filter(|v| *v > 0.0);
    if let Some(v) = q
        .fast_queues_fq_codel
        .filter(|v| !v.is_finite() || *v < 0.0)
    {
        reject(
            "queues.fast_queues_fq_codel",
            v.to_string(),
            "expected Mbps (0 or absent: off)",
        );
    }
    let default_sqm = q
        .default_sqm
        .unwrap_or_else(|| "cake diffserv4".into())
        .trim()
        .to_string();
    if default_sqm.is_empty() || !default_sqm.chars().all(is_tc_word_char) {
        reject(
            "queues.default_sqm",
            default_sqm.clone(),
            "expected a qdisc such as \"cake diffserv4\", \"fq_codel\", \"pfifo\" or \"none\" (letters, digits, spaces and _.:/-+% only: it becomes part of a tc command)",
        );
    }
    let queue_mode = match (q.queue_mode.as_deref(), q.monitor_only) {
        (Some("shape"), _) => QueueMode::Shape,
        (Some("observe"), _) => QueueMode::Observe,
        (Some(other), _) => {
            reject(
                "queues.queue_mode",
                other.to_string(),
                "expected \"shape\" or \"observe\"",
            );
            QueueMode::Shape
        }
        (None, Some(true)) => QueueMode::Observe,
        (None, _) => QueueMode::Shape,
    };
    let lazy_mode = match q
        .lazy_queues
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("no") => LazyMode::No,
        Some("htb") => LazyMode::Htb,
        Some("full") => LazyMode::Full,
        Some(_) => {
            reject(
                "queues.lazy_queues",
                q.lazy_queues.clone().unwrap_or_default(),
                "expected \"No\", \"Htb\" or \"Full\"",
            );
            LazyMode::No
        }
    };
    let lazy = LazyQueues {
        mode: lazy_mode,
        expire: match q.lazy_expire_seconds {
            Some(0) => None,
            Some(s) => Some(std::time::Duration::from_secs(s)),
            None => LazyQueues::default().expire,
        },
        threshold_bytes: q.lazy_threshold_bytes.unwrap_or(0),
    };
    let override_queues = match q.override_available_queues {
        None | Some(0) => None,
        // HTB majors 1..=n (2n on a stick) must stay below the first leaf qdisc handle (0x400).
        Some(n) if n <= 511 => Some(n as u16),
        Some(n) => {
            reject(
                "queues.override_available_queues",
                n.to_string(),
                "expected 0 (auto) or at most 511 queues",
            );
            None
        }
    };

    let mut checker = crate::integrations::Checker { file, diags };
    let common = crate::integrations::build_common(raw.integration_common, &mut checker);
    let limits = crate::integrations::build_limits(raw.lqos_integrations, &mut checker);
    let tables = crate::integrations::RawTables {
        uisp: raw.uisp_integration,
        splynx: raw.splynx_integration.or(raw.spylnx_integration),
        netzur: raw.netzur_integration,
        visp: raw.visp_integration,
        powercode: raw.powercode_integration,
        sonar: raw.sonar_integration,
        wispgate: raw.wispgate_integration,
        compile_mode: raw.topology.compile_mode,
    };
    let built = crate::integrations::build_sources(tables, &common, &mut checker);
    let interval = common.queue_refresh_interval_mins;
    let integrations = crate::integrations::Integrations {
        common,
        limits,
        uisp: built.uisp,
        splynx: built.splynx,
        netzur: built.netzur,
        visp: built.visp,
        powercode: built.powercode,
        sonar: built.sonar,
        wispgate: built.wispgate,
    };
    let mut reject = |key: &str, value: String, message: &str| {
        diags.push(
            Diagnostic::new(Severity::Reject, file, Location::Key(key.into()), message)
                .value(value),
        )
    };

    let mut subnets = |key: &str, list: Vec<String>| -> Vec<IpNet> {
        list.into_iter()
            .filter_map(|s| match crate::ip_list::parse_prefix(&s) {
                Ok(net) => Some(net),
                Err(why) => {
                    reject(key, s, &why);
                    None
                }
            })
            .collect()
    };
    let ip_ranges = IpRanges {
        ignore_subnets: subnets("ip_ranges.ignore_subnets", raw.ip_ranges.ignore_subnets),
        allow_subnets: subnets("ip_ranges.allow_subnets", raw.ip_ranges.allow_subnets),
    };

    let capacity = raw.lqosd.ip_map_capacity.unwrap_or(1_048_576);
    if capacity == 0 {
        reject(
            "lqosd.ip_map_capacity",
            "0".into(),
            "expected a capacity of at least 1",
        );
    }
    let xdp_mode = match raw.lqosd.xdp_mode.as_deref() {
        None | Some("auto") => XdpMode::Auto,
        Some("native") => XdpMode::Native,
        Some("generic") => XdpMode::Generic,
        Some(other) => {
            reject(
                "lqosd.xdp_mode",
                other.to_string(),
                "expected \"auto\", \"native\" or \"generic\"",
            );
            XdpMode::Auto
        }
    };
    let webserver_listen = raw.webserver_listen.unwrap_or_else(|| ":::9123".into());
    if let Err(e) = parse_listen(&webserver_listen) {
        reject("webserver_listen", webserver_listen.clone(), e);
    }
    let http_import = crate::http_import::build(raw.http_import, file, diags);
    let node_name = raw.node_name.unwrap_or_else(|| "lqos".into());
    let fleet = crate::fleet::build(raw.fleet, &node_name, file, diags);
    let flows = crate::flows::build(raw.flows, file, diags);
    let geo = crate::geo::build(raw.geo, file, base, diags);
    if http_import.is_some() && !integrations.enabled().is_empty() {
        diags.push(Diagnostic::new(
            Severity::Reject,
            file,
            Location::Key("http_import".into()),
            format!(
                "[http_import] and the {} integration(s) both write ShapedDevices.csv: enable one source of circuits",
                integrations.enabled().join(", ")
            ),
        ));
    }
    let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
    let interfaces = interfaces?;
    Some(Config {
        lqos_directory: resolve(raw.lqos_directory.unwrap_or_else(|| "/opt/lqos".into())),
        state_directory: resolve(
            raw.state_directory
                .unwrap_or_else(|| "/var/lib/lqos".into()),
        ),
        node_name,
        webserver_listen,
        interfaces,
        queues: Queues {
            default_sqm,
            queue_mode,
            uplink_bandwidth_mbps: uplink,
            downlink_bandwidth_mbps: downlink,
            generated_pn_download_mbps: pn_down,
            generated_pn_upload_mbps: pn_up,
            dry_run: q.dry_run.unwrap_or(false),
            override_available_queues: override_queues,
            use_binpacking: q.use_binpacking.unwrap_or(true),
            fast_queues_fq_codel: fast,
            lazy,
        },
        queue_refresh_interval_mins: interval,
        ip_ranges,
        lqosd: Lqosd {
            bus_socket: resolve(
                raw.lqosd
                    .bus_socket
                    .unwrap_or_else(|| "/run/lqos/bus".into()),
            ),
            bpf_pin_dir: resolve(
                raw.lqosd
                    .bpf_pin_dir
                    .unwrap_or_else(|| "/sys/fs/bpf/lqos".into()),
            ),
            ip_map_capacity: capacity,
            xdp_mode,
        },
        http_import,
        fleet,
        integrations,
        flows,
        geo,
    })
}

/// Characters that stay part of one word of a `tc -batch` line (tc's batch reader treats
/// newlines, `#`, `\\` and quotes specially; lqos-plan's `is_batch_text` is the same rule).
fn is_tc_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | ':' | '/' | '-' | '+' | '%')
}

/// Linux interface names (1-15 bytes, no '/', ':', or whitespace) that tc also takes as they
/// are in its batch input (no quotes, `#`, `\\` or control characters).
fn check_ifname(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 15 {
        return Err("expected an interface name of 1 to 15 characters");
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace())
        || name == "."
        || name == ".."
    {
        return Err("expected an interface name without '/', ':' or spaces");
    }
    if !name.chars().all(is_tc_word_char) {
        return Err("expected an interface name of letters, digits and _.-+% (tc cannot take quotes, '#' or '\\' in its batch input)");
    }
    Ok(())
}

/// `webserver_listen` as an address: `:::9123` (every address, IPv6 and IPv4),
/// `0.0.0.0:9123`, `[::1]:9123`, `127.0.0.1:9123`; `None` for an empty value (no WebUI).
pub fn parse_listen(listen: &str) -> Result<Option<std::net::SocketAddr>, &'static str> {
    let l = listen.trim();
    if l.is_empty() {
        return Ok(None);
    }
    let fixed = match l.rsplit_once(':') {
        Some((host, port)) if host.contains(':') && !host.starts_with('[') => {
            format!("[{host}]:{port}")
        }
        _ => l.to_owned(),
    };
    fixed
        .replace("[]", "[::]")
        .parse()
        .map(Some)
        .map_err(|_| "expected address:port such as :::9123 or 127.0.0.1:9123 (empty: no WebUI)")
}

impl Config {
    pub fn shaped_devices_path(&self) -> PathBuf {
        self.lqos_directory.join("ShapedDevices.csv")
    }
    pub fn network_json_path(&self) -> PathBuf {
        self.lqos_directory.join("network.json")
    }
    pub fn overrides_path(&self) -> PathBuf {
        self.lqos_directory.join("lqos_overrides.json")
    }
    /// Created by lqosd (the WebUI's "refresh now"); lqos-scheduler removes it and refreshes.
    pub fn refresh_request_path(&self) -> PathBuf {
        self.state_directory.join("refresh.request")
    }
    /// The WebUI's users (lqosd).
    pub fn web_users_path(&self) -> PathBuf {
        self.state_directory.join("webusers.toml")
    }
}
