//! Sonar's AP tree, as LibreQoS builds it: the network sites with inventory items of the
//! configured airMax/LTU models are the APs; each AP with an address is walked over SNMP
//! (its station MAC table, then `sysName`), and an account goes under the first AP whose
//! table holds one of its devices' MACs. Sites and APs get the generated_pn capacities.
//! An AP that does not answer costs only its clients' placement, never the import.

use crate::model::{parse_ip, Import, NodeRec};
use crate::snmp::Agent;
use crate::sources::Defaults;
use futures_util::stream::{self, StreamExt};
use lqos_config::integrations::Sonar;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// UBNT airMax station MAC table (`snmpwalk` of LibreQoS).
pub const AIRMAX_OID: [u64; 13] = [1, 3, 6, 1, 4, 1, 41112, 1, 4, 7, 1, 1, 1];
/// UBNT LTU station MAC table.
pub const LTU_OID: [u64; 13] = [1, 3, 6, 1, 4, 1, 41112, 1, 10, 1, 4, 1, 11];
/// SNMPv2-MIB sysName.0.
pub const SYS_NAME: [u64; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
/// APs walked at once (LibreQoS: 30 threads).
const CONCURRENCY: usize = 16;
/// All the walks of one run end within this.
pub const BUDGET: Duration = Duration::from_secs(90);

pub const SITES: &str = "query Sites($pages: Paginator, $rr_ap_models: ReverseRelationFilter, $ap_models: Search) { network_sites(paginator: $pages, reverse_relation_filters: [$rr_ap_models]) { page_info { page total_pages } entities { id name inventory_items(search: [$ap_models]) { entities { id inventory_model_id inventory_model_field_data { entities { ip_assignments { entities { subnet } } } } ip_assignments { entities { subnet } } } } } } }";

/// An AP from Sonar's inventory.
#[derive(Debug, Clone)]
pub struct Ap {
    pub site_id: String,
    pub site_name: String,
    pub id: String,
    pub ltu: bool,
    pub ip: IpAddr,
}

/// What one AP's walk found: its name and its stations' MACs (normalized), or why not.
#[derive(Debug, Clone)]
pub struct Seen {
    pub ap: Ap,
    pub result: Result<(String, Vec<String>), String>,
}

/// Upper-case hex digits only; `None` unless it is a 48-bit MAC.
pub fn norm_mac(m: &str) -> Option<String> {
    let hex: String = m.chars().filter(char::is_ascii_hexdigit).collect();
    (hex.len() == 12).then(|| hex.to_ascii_uppercase())
}

/// A station table value: 6 bytes are the MAC itself; otherwise MAC text.
pub fn mac_of(v: &[u8]) -> Option<String> {
    if v.len() == 6 {
        return Some(v.iter().map(|b| format!("{b:02X}")).collect());
    }
    norm_mac(&String::from_utf8_lossy(v))
}

/// The search variables: inventory_model_id EQ each configured model.
pub fn model_search(s: &Sonar) -> Value {
    let fields: Vec<Value> = s
        .airmax_model_ids
        .iter()
        .chain(&s.ltu_model_ids)
        .map(|id| serde_json::json!({"attribute": "inventory_model_id", "operator": "EQ", "search_value": id.parse::<i64>().unwrap_or(0)}))
        .collect();
    serde_json::json!({"integer_fields": fields})
}

/// The APs of the sites; an AP without an address is reported and left out.
pub fn aps_of_sites(s: &Sonar, sites: &[Value], import: &mut Import) -> Vec<Ap> {
    let mut out = Vec::new();
    for site in sites {
        let (Some(site_id), Some(site_name)) = (super::text(site, "id"), super::text(site, "name"))
        else {
            import.skip("network site", "malformed record: no id or name");
            continue;
        };
        for item in super::entities(site, "inventory_items") {
            let Some(id) = super::text(&item, "id") else {
                continue;
            };
            let model = super::text(&item, "inventory_model_id").unwrap_or_default();
            let ltu = s.ltu_model_ids.contains(&model);
            if !ltu && !s.airmax_model_ids.contains(&model) {
                continue;
            }
            // The first address: the item's own, else its fields'.
            let mut subnets = super::entities(&item, "ip_assignments");
            for f in super::entities(&item, "inventory_model_field_data") {
                subnets.extend(super::entities(&f, "ip_assignments"));
            }
            let ip = subnets
                .iter()
                .filter_map(|a| super::text(a, "subnet"))
                .find_map(|t| parse_ip(&t).ok());
            match ip {
                Some(net) => out.push(Ap {
                    site_id: site_id.clone(),
                    site_name: site_name.clone(),
                    id,
                    ltu,
                    ip: net.addr(),
                }),
                None => import.note(format!("AP {id}"), "no IP address: not walked"),
            }
        }
    }
    out
}

/// Walks every AP, `CONCURRENCY` at a time, all within [`BUDGET`].
pub async fn walk_all(s: &Sonar, aps: Vec<Ap>, budget: Duration) -> Vec<Seen> {
    let deadline = tokio::time::Instant::now() + budget;
    let timeout = Duration::from_secs(s.snmp_timeout_secs);
    let mut seen: Vec<Seen> = stream::iter(aps)
        .map(|ap| async move {
            let agent = Agent {
                addr: SocketAddr::new(ap.ip, s.snmp_port),
                community: s.snmp_community.clone(),
                timeout,
                deadline,
            };
            let root: &[u64] = if ap.ltu { &LTU_OID } else { &AIRMAX_OID };
            let result = async {
                let rows = agent.walk(root).await?;
                let name = agent.get(&SYS_NAME).await?;
                Ok::<_, crate::snmp::SnmpError>((name, rows))
            }
            .await;
            let result = result.map_err(|e| e.to_string()).map(|(name, rows)| {
                let macs = rows.iter().filter_map(|(_, v)| mac_of(v)).collect();
                (name.unwrap_or_else(|| format!("AP {}", ap.id)), macs)
            });
            Seen { ap, result }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    seen.sort_by(|a, b| a.ap.id.cmp(&b.ap.id));
    seen
}

/// Puts each circuit under the first AP (by id) whose station table has one of its devices'
/// MACs, and adds those APs and their sites as nodes.
pub fn place(import: &mut Import, d: Defaults, seen: &[Seen]) {
    let mut nodes: BTreeMap<String, NodeRec> = BTreeMap::new();
    let mut tables: Vec<(String, HashSet<&str>)> = Vec::new();
    for s in seen {
        let ap = &s.ap;
        match &s.result {
            Err(why) => import.note(
                format!("AP {} ({})", ap.id, ap.ip),
                format!("{why}: its clients stay unparented"),
            ),
            Ok((_, macs)) if macs.is_empty() => import.note(
                format!("AP {}", ap.id),
                "no stations in its SNMP table: not a node",
            ),
            Ok((name, macs)) => {
                let site = format!("sonar:site:{}", ap.site_id);
                nodes.entry(site.clone()).or_insert_with(|| NodeRec {
                    id: site.clone(),
                    name: ap.site_name.clone(),
                    parent_id: None,
                    kind: "Site".into(),
                    download_mbps: d.pn_down,
                    upload_mbps: d.pn_up,
                });
                let id = format!("sonar:ap:{}", ap.id);
                nodes.insert(
                    id.clone(),
                    NodeRec {
                        id: id.clone(),
                        name: name.clone(),
                        parent_id: Some(site),
                        kind: "AP".into(),
                        download_mbps: d.pn_down,
                        upload_mbps: d.pn_up,
                    },
                );
                tables.push((id, macs.iter().map(String::as_str).collect()));
            }
        }
    }
    if seen.is_empty() {
        return;
    }
    let mut unplaced = Vec::new();
    for c in &mut import.circuits {
        let macs: Vec<String> = c.devices.iter().filter_map(|x| norm_mac(&x.mac)).collect();
        c.parent_id = macs.iter().find_map(|m| {
            tables
                .iter()
                .find(|(_, t)| t.contains(m.as_str()))
                .map(|(id, _)| id.clone())
        });
        if c.parent_id.is_none() {
            unplaced.push(c.id.clone());
        }
    }
    for id in unplaced {
        import.note(
            format!("circuit {id}"),
            "not seen on any AP that answered SNMP: unparented",
        );
    }
    import.nodes = nodes.into_values().collect();
}
