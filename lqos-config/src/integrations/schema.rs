//! What the WebUI's integration editors show: every key of each integration table, its kind,
//! default and meaning, and which keys are secrets (written, never read back).

/// How a key is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bool,
    Text,
    /// Write-only: shown as set / not set.
    Secret,
    Number,
    Integer,
    /// A list of strings.
    List,
    /// One of these values.
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct KeySpec {
    pub key: &'static str,
    pub kind: Kind,
    /// The default as text ("" when the key is required or empty by default).
    pub default: &'static str,
    pub help: &'static str,
}

/// One integration's table.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TableSpec {
    /// The integration's name (`lqos-scheduler integration test NAME`).
    pub name: &'static str,
    pub title: &'static str,
    pub table: &'static str,
    /// The key that turns it on.
    pub enable_key: &'static str,
    pub keys: &'static [KeySpec],
}

const fn k(key: &'static str, kind: Kind, default: &'static str, help: &'static str) -> KeySpec {
    KeySpec {
        key,
        kind,
        default,
        help,
    }
}

const STRATEGIES: &[&str] = &["flat", "ap_only", "ap_site", "full"];
const COMMON: [KeySpec; 2] = [
    k("refresh_interval_mins", Kind::Integer, "", "minutes between imports (lqos key; default [integration_common] queue_refresh_interval_mins)"),
    k("ca_file", Kind::Text, "", "PEM file of extra CA certificates (lqos key)"),
];

macro_rules! keys {
    ($($spec:expr),* $(,)?) => {
        &[$($spec,)* COMMON[0], COMMON[1]]
    };
}

/// Every integration's editable keys, in LibreQoS's order.
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "uisp",
        title: "UISP",
        table: "uisp_integration",
        enable_key: "enable_uisp",
        keys: keys![
            k(
                "url",
                Kind::Text,
                "",
                "UISP NMS address, e.g. https://uisp.example.net (/nms/api/v2.1 is added)"
            ),
            k("token", Kind::Secret, "", "NMS API token (read access)"),
            k(
                "site",
                Kind::Text,
                "",
                "root site name; empty: the site UISP connects to the Internet"
            ),
            k(
                "strategy",
                Kind::Choice(STRATEGIES),
                "full",
                "how much of the tree network.json gets"
            ),
            k(
                "suspended_strategy",
                Kind::Choice(&["none", "ignore", "slow"]),
                "none",
                "suspended clients: full speed, not imported, or slow"
            ),
            k(
                "suspended_slow_mbps",
                Kind::Number,
                "0.1",
                "the slow rate (lqos key)"
            ),
            k(
                "airmax_capacity",
                Kind::Number,
                "1.0",
                "multiplier of airMax AP capacity"
            ),
            k(
                "ltu_capacity",
                Kind::Number,
                "1.0",
                "multiplier of LTU AP capacity"
            ),
            k("exclude_sites", Kind::List, "", "site names not imported"),
            k(
                "squash_sites",
                Kind::List,
                "",
                "site names removed from the tree (children move up)"
            ),
            k(
                "exception_cpes",
                Kind::List,
                "",
                "cpe-hostname:parent, one per line"
            ),
            k(
                "bandwidth_overhead_factor",
                Kind::Number,
                "1.0",
                "max = plan × this"
            ),
            k(
                "commit_bandwidth_multiplier",
                Kind::Number,
                "1.0",
                "min = plan × this"
            ),
            k(
                "ignore_calculated_capacity",
                Kind::Bool,
                "false",
                "every site and AP at the generated_pn rates"
            ),
            k(
                "insecure_ssl",
                Kind::Bool,
                "false",
                "accept any TLS certificate"
            ),
        ],
    },
    TableSpec {
        name: "splynx",
        title: "Splynx",
        table: "splynx_integration",
        enable_key: "enable_splynx",
        keys: keys![
            k("url", Kind::Text, "", "Splynx address (/api/2.0 is added)"),
            k(
                "api_key",
                Kind::Text,
                "",
                "API key (HTTP Basic user; \"Unsecure access\" on)"
            ),
            k("api_secret", Kind::Secret, "", "API secret"),
            k(
                "strategy",
                Kind::Choice(STRATEGIES),
                "ap_site",
                "how much of the tree network.json gets"
            ),
        ],
    },
    TableSpec {
        name: "visp",
        title: "VISP",
        table: "visp_integration",
        enable_key: "enable_visp",
        keys: keys![
            k("client_id", Kind::Text, "", "API client id"),
            k("client_secret", Kind::Secret, "", "API client secret"),
            k("username", Kind::Text, "", "app user"),
            k("password", Kind::Secret, "", "app user's password"),
            k(
                "isp_id",
                Kind::Integer,
                "",
                "ISP id; empty: the token's first"
            ),
            k(
                "online_users_domain",
                Kind::Text,
                "",
                "onlineUsers domain: addresses for services without one; empty: not asked"
            ),
            k(
                "timeout_secs",
                Kind::Integer,
                "20",
                "per-request timeout (at least 10)"
            ),
            k(
                "token_url",
                Kind::Text,
                "https://data.visp.net/token",
                "token endpoint"
            ),
            k(
                "graphql_url",
                Kind::Text,
                "https://integrations.visp.net/graphql",
                "GraphQL endpoint"
            ),
            k(
                "verify_tls",
                Kind::Bool,
                "true",
                "verify the TLS certificate"
            ),
        ],
    },
    TableSpec {
        name: "netzur",
        title: "Netzur",
        table: "netzur_integration",
        enable_key: "enable_netzur",
        keys: keys![
            k("api_url", Kind::Text, "", "the full endpoint URL"),
            k("api_key", Kind::Secret, "", "Bearer key"),
            k(
                "timeout_secs",
                Kind::Integer,
                "60",
                "per-request timeout (at least 5)"
            ),
        ],
    },
    TableSpec {
        name: "powercode",
        title: "Powercode",
        table: "powercode_integration",
        enable_key: "enable_powercode",
        keys: keys![
            k(
                "powercode_api_url",
                Kind::Text,
                "",
                "host base; :444 is added unless a port is given"
            ),
            k("powercode_api_key", Kind::Secret, "", "API key"),
            k(
                "verify_tls",
                Kind::Bool,
                "true",
                "verify the TLS certificate (lqos key)"
            ),
        ],
    },
    TableSpec {
        name: "sonar",
        title: "Sonar",
        table: "sonar_integration",
        enable_key: "enable_sonar",
        keys: keys![
            k(
                "sonar_api_url",
                Kind::Text,
                "",
                "Sonar address (/api/graphql is added)"
            ),
            k("sonar_api_key", Kind::Secret, "", "Bearer key"),
            k(
                "active_status_ids",
                Kind::List,
                "",
                "account status ids to import; empty: every activating status"
            ),
            k(
                "recurring_excluded_service_names",
                Kind::List,
                "",
                "recurring services never used for rates"
            ),
            k(
                "snmp_community",
                Kind::Secret,
                "public",
                "SNMP v1 community of the APs walked for the AP tree"
            ),
            k(
                "airmax_model_ids",
                Kind::List,
                "",
                "inventory model ids of airMax APs to walk"
            ),
            k(
                "ltu_model_ids",
                Kind::List,
                "",
                "inventory model ids of LTU APs to walk"
            ),
            k(
                "snmp_port",
                Kind::Integer,
                "161",
                "the APs' SNMP port (lqos key)"
            ),
            k(
                "snmp_timeout_secs",
                Kind::Integer,
                "2",
                "per-request SNMP timeout (lqos key)"
            ),
        ],
    },
    TableSpec {
        name: "wispgate",
        title: "WISPGate",
        table: "wispgate_integration",
        enable_key: "enable_wispgate",
        keys: keys![
            k("wispgate_api_url", Kind::Text, "", "WISPGate address"),
            k("wispgate_api_token", Kind::Secret, "", "API token"),
        ],
    },
];

/// The table of integration `name`.
pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}
