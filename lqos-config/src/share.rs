//! A fleet box's share of the inputs: the top-level network.json nodes it shapes, their whole
//! subtrees and the circuits under them (a subscriber's HTB and leaf state lives in one
//! kernel, so a share is never split below its top-level node).

use crate::fleet::{SHARE_ALL, SHARE_UNPARENTED};
use crate::{Inputs, Network};

/// What [`take_share`] kept, and which share entries named no top-level node.
#[derive(Debug)]
pub struct Shared {
    pub inputs: Inputs,
    /// Entries of the share that are not top-level nodes of this network.json.
    pub unknown: Vec<String>,
}

/// The part of `inputs` under the top-level nodes named in `share` ([`SHARE_ALL`]: all;
/// [`SHARE_UNPARENTED`]: the circuits without a parent node).
pub fn take_share(inputs: Inputs, share: &[String]) -> Shared {
    let all = share.iter().any(|s| s == SHARE_ALL);
    let unparented = all || share.iter().any(|s| s == SHARE_UNPARENTED);
    let old = &inputs.network;
    let roots: Vec<usize> = old.roots().collect();
    let unknown = share
        .iter()
        .filter(|s| *s != SHARE_ALL && *s != SHARE_UNPARENTED)
        .filter(|s| !roots.iter().any(|&r| old.nodes[r].name == **s))
        .cloned()
        .collect();
    // Old index -> new index, for every node kept (whole subtrees, parents first).
    let mut map: Vec<Option<usize>> = vec![None; old.nodes.len()];
    let mut network = Network::default();
    let mut stack: Vec<usize> = roots
        .iter()
        .rev()
        .copied()
        .filter(|&r| all || share.iter().any(|s| *s == old.nodes[r].name))
        .collect();
    while let Some(i) = stack.pop() {
        let mut node = old.nodes[i].clone();
        node.parent = node.parent.and_then(|p| map[p]);
        map[i] = Some(network.push(node));
        stack.extend(old.nodes[i].children.iter().rev());
    }
    let mut circuits = Vec::new();
    let mut device_rows = 0;
    for mut c in inputs.circuits {
        let keep = match c.parent {
            None => unparented,
            Some(p) => map[p].is_some(),
        };
        if keep {
            c.parent = c.parent.and_then(|p| map[p]);
            device_rows += c.devices.len();
            circuits.push(c);
        }
    }
    Shared {
        inputs: Inputs {
            network,
            circuits,
            quarantined: inputs.quarantined,
            device_rows,
        },
        unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_inputs, InputTexts, IpRanges};

    const NET: &str = r#"{
        "SiteA": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100,
                  "children": {"APa": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50}}},
        "SiteB": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100,
                  "children": {"APb": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50}}}
    }"#;
    const CSV: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n\
        1,c1,d1,d1,APa,,100.64.0.1,,1,1,10,10,\n\
        2,c2,d2,d2,APb,,100.64.0.2,,1,1,10,10,\n\
        3,c3,d3,d3,SiteB,,100.64.0.3,,1,1,10,10,\n\
        4,c4,d4,d4,,,100.64.0.4,,1,1,10,10,\n";

    fn inputs() -> Inputs {
        let texts = InputTexts {
            shaped_devices: CSV.as_bytes(),
            network: NET,
            overrides: None,
        };
        let (inputs, diags) = parse_inputs(&texts, &IpRanges::default());
        inputs.unwrap_or_else(|| panic!("inputs rejected: {diags}"))
    }

    fn ids(s: &Shared) -> Vec<&str> {
        s.inputs.circuits.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn a_share_keeps_its_subtrees_and_their_circuits_only() {
        let s = take_share(inputs(), &["SiteB".into(), "Nowhere".into()]);
        assert_eq!(ids(&s), ["2", "3"]);
        let names: Vec<&str> = s
            .inputs
            .network
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["SiteB", "APb"]);
        assert_eq!(s.unknown, ["Nowhere"]);
        // Parents point into the new arena.
        let net = &s.inputs.network;
        let ap = net.find("APb").expect("APb");
        assert_eq!(net.nodes[ap].parent, net.find("SiteB"));
        assert_eq!(net.nodes[net.find("SiteB").expect("SiteB")].children, [ap]);
        assert_eq!(s.inputs.circuits[0].parent, Some(ap));
        assert_eq!(s.inputs.device_rows, 2);
    }

    #[test]
    fn all_and_unparented() {
        let s = take_share(inputs(), &[SHARE_ALL.into()]);
        assert_eq!(ids(&s), ["1", "2", "3", "4"]);
        assert_eq!(s.inputs.network.nodes.len(), 4);
        let s = take_share(inputs(), &["SiteA".into(), SHARE_UNPARENTED.into()]);
        assert_eq!(ids(&s), ["1", "4"]);
        assert!(s.unknown.is_empty());
    }
}
