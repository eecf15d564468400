//! VISP's IRM topology, as LibreQoS builds it: each circuit's CPE is found among the
//! `equipmentAssemblies` CPE rows (by equipment id, else by location name = the customer's
//! name), the best row wins by score, and its `parent_id` is followed up the `equipmentPg`
//! tree: every equipment on the way becomes a node (`visp:eq:<id>`), and the location of the
//! top one a site (`visp:site:<location_id>`). Capacities are the generated_pn defaults.
//! A circuit whose chain cannot be resolved stays unparented, with a note.

use super::records::{Assembly, EquipmentRow};
use crate::model::{parse_records, text_field, Import, NodeRec};
use crate::sources::Defaults;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The deepest equipment chain followed (a longer one is treated as a loop).
const MAX_DEPTH: usize = 64;

/// What a circuit offers to find its CPE.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// The customer's equipment ids from the bulk list; the first one is preferred.
    pub equipment_ids: Vec<String>,
    /// The username and the subscriber's "First Last", matched against `location_name`.
    pub names: Vec<String>,
    pub mac: String,
}

fn norm_mac(m: &str) -> String {
    m.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_ascii_uppercase()
}

/// `equipment_data` as attribute name → value text (an object, or JSON text of one).
fn attributes(data: Option<&Value>) -> Vec<(String, String)> {
    let obj = match data {
        Some(Value::Object(o)) => Some(o.clone()),
        Some(Value::String(t)) => serde_json::from_str::<serde_json::Map<String, Value>>(t).ok(),
        _ => None,
    };
    obj.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.to_ascii_lowercase(), text.trim().to_owned())
        })
        .collect()
}

/// LibreQoS's score of a CPE row for a circuit.
fn score(row: &Assembly, w: &Wanted) -> i32 {
    let attrs = attributes(row.equipment_data.as_ref());
    let set = |k: &str| attrs.iter().any(|(n, v)| n == k && !v.is_empty());
    let mut s = 0;
    if row.parent_id.is_some() {
        s += 100;
    }
    let loc = row.location_name.as_deref().unwrap_or("");
    if !loc.is_empty() && w.names.iter().any(|n| n.eq_ignore_ascii_case(loc)) {
        s += 40;
    }
    if row.id.is_some() && row.id.as_ref() == w.equipment_ids.first() {
        s += 20;
    }
    let mac = norm_mac(&w.mac);
    if !mac.is_empty() && attrs.iter().any(|(_, v)| norm_mac(v) == mac) {
        s += 15;
    }
    if set("fiber mac") {
        s += 10;
    }
    if attrs
        .iter()
        .any(|(n, v)| n.contains("vlan") && !v.is_empty())
    {
        s += 5;
    }
    let router_mode = attrs.iter().any(|(n, v)| {
        n == "router mode" && matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
    });
    if router_mode {
        s -= 20;
    }
    if row
        .description
        .as_deref()
        .is_some_and(|d| d.to_ascii_lowercase().contains("router"))
    {
        s -= 10;
    }
    s
}

/// The nodes from `start` up: equipment nodes, then the site; or why there are none.
fn chain(
    start: &str,
    equipment: &HashMap<String, EquipmentRow>,
    d: Defaults,
) -> Result<Vec<NodeRec>, String> {
    let mut nodes = Vec::new();
    let mut seen = HashSet::new();
    let mut id = start.to_owned();
    loop {
        let Some(row) = equipment.get(&id) else {
            return Err(format!("equipment {id} is not in the equipment list"));
        };
        if !seen.insert(id.clone()) || seen.len() > MAX_DEPTH {
            return Err(format!("the equipment chain loops at {id}"));
        }
        let parent = row.parent_id.clone().filter(|p| equipment.contains_key(p));
        let site = row.location_id.clone().filter(|_| parent.is_none());
        nodes.push(NodeRec {
            id: format!("visp:eq:{id}"),
            name: row
                .description
                .clone()
                .or_else(|| row.name.clone())
                .unwrap_or_else(|| format!("Equipment {id}")),
            parent_id: parent
                .as_ref()
                .map(|p| format!("visp:eq:{p}"))
                .or_else(|| site.as_ref().map(|l| format!("visp:site:{l}"))),
            kind: "AP".into(),
            download_mbps: d.pn_down,
            upload_mbps: d.pn_up,
        });
        match (parent, site) {
            (Some(p), _) => id = p,
            (None, Some(l)) => {
                nodes.push(NodeRec {
                    id: format!("visp:site:{l}"),
                    name: row
                        .location_name
                        .clone()
                        .unwrap_or_else(|| format!("Site {l}")),
                    parent_id: None,
                    kind: "Site".into(),
                    download_mbps: d.pn_down,
                    upload_mbps: d.pn_up,
                });
                return Ok(nodes);
            }
            (None, None) => return Ok(nodes),
        }
    }
}

/// Gives the circuits of `import` their IRM parents and adds the nodes on their chains.
pub fn place(
    import: &mut Import,
    d: Defaults,
    assemblies: Vec<Value>,
    equipment: Vec<Value>,
    wanted: &[(String, Wanted)],
) {
    if assemblies.is_empty() || equipment.is_empty() {
        return;
    }
    let rows: Vec<Assembly> =
        parse_records(import, "assembly", assemblies, |v| text_field(v, "id"));
    let tree: Vec<EquipmentRow> =
        parse_records(import, "equipment", equipment, |v| text_field(v, "id"));
    let tree: HashMap<String, EquipmentRow> = tree
        .into_iter()
        .filter_map(|r| Some((r.id.clone()?, r)))
        .collect();
    let mut nodes: BTreeMap<String, NodeRec> = BTreeMap::new();
    let mut parents: HashMap<&str, String> = HashMap::new();
    for (circuit, w) in wanted {
        let by_id: Vec<&Assembly> = rows
            .iter()
            .filter(|r| r.id.as_ref().is_some_and(|i| w.equipment_ids.contains(i)))
            .collect();
        let candidates = if by_id.is_empty() {
            rows.iter()
                .filter(|r| {
                    r.location_name
                        .as_deref()
                        .is_some_and(|l| w.names.iter().any(|n| n.eq_ignore_ascii_case(l)))
                })
                .collect()
        } else {
            by_id
        };
        // The highest score; the first row on a tie.
        let Some(best) = candidates.iter().rev().max_by_key(|r| score(r, w)) else {
            continue;
        };
        let Some(start) = best.parent_id.as_deref() else {
            continue;
        };
        match chain(start, &tree, d) {
            Ok(list) => {
                parents.insert(circuit.as_str(), format!("visp:eq:{start}"));
                for n in list {
                    nodes.entry(n.id.clone()).or_insert(n);
                }
            }
            Err(why) => import.note(
                format!("circuit {circuit}"),
                format!("{why}: imported without a parent"),
            ),
        }
    }
    for c in &mut import.circuits {
        if let Some(p) = parents.get(c.id.as_str()) {
            c.parent_id = Some(p.clone());
        }
    }
    import.nodes = nodes.into_values().collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Assembly {
        serde_json::from_value(v).expect("row")
    }

    #[test]
    fn scores_as_libreqos() {
        let w = Wanted {
            equipment_ids: vec!["1".into(), "2".into()],
            names: vec!["jdoe".into()],
            mac: "02:00:00:00:00:0a".into(),
        };
        let radio = row(
            json!({"id": 2, "parent_id": 9, "location_name": "JDoe", "equipment_data": "{\"MAC\": \"0200000000 0A\", \"Fiber MAC\": \"x\", \"Mgmt VLAN\": 5}"}),
        );
        // parent 100 + location 40 + MAC 15 + fiber 10 + VLAN 5
        assert_eq!(score(&radio, &w), 170);
        let router = row(
            json!({"id": 1, "parent_id": 9, "description": "Home Router", "equipment_data": {"Router Mode": "true"}}),
        );
        // parent 100 + preferred 20 - router mode 20 - description 10
        assert_eq!(score(&router, &w), 90);
        assert_eq!(score(&row(json!({"id": 3})), &w), 0);
    }
}
