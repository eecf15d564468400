//! A fleet box's share of the inputs: the top-level network.json nodes it shapes, their whole
//! subtrees and the circuits under them (a subscriber's HTB and leaf state lives in one
//! kernel, so a share is never split below its top-level node).
//!
//! A share entry is a top-level node's name, [`SHARE_ALL`], [`SHARE_UNPARENTED`], or a
//! [`Rule`] (`@type=Site*`: the top-level nodes whose attribute matches the pattern). Rules
//! travel as entries, so a box's registration, its standby and the planning child all see the
//! same rule, and each evaluates it against the same published network.json.

use crate::fleet::{SHARE_ALL, SHARE_UNPARENTED};
use crate::network::Node;
use crate::{Inputs, Network};

/// The first character of a share entry that is a [`Rule`].
pub const RULE_PREFIX: char = '@';

/// The node attribute a [`Rule`] looks at (network.json's key for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// The node's name (its key in network.json).
    Name,
    /// `"type"`.
    Type,
    /// `"id"`.
    Id,
}

impl Attribute {
    /// The accepted spellings, for error messages.
    pub const EXPECTED: &'static str = "name, type or id";

    pub fn parse(s: &str) -> Option<Attribute> {
        match s {
            "name" => Some(Attribute::Name),
            "type" => Some(Attribute::Type),
            "id" => Some(Attribute::Id),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Attribute::Name => "name",
            Attribute::Type => "type",
            Attribute::Id => "id",
        }
    }

    fn of(self, node: &Node) -> Option<&str> {
        match self {
            Attribute::Name => Some(&node.name),
            Attribute::Type => node.node_type.as_deref(),
            Attribute::Id => node.id.as_deref(),
        }
    }
}

/// Takes the top-level nodes whose `attribute` matches `pattern` (`*`: any run of characters,
/// everything else literal and case-sensitive). A node without the attribute never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub attribute: Attribute,
    pub pattern: String,
}

/// Why a share entry starting with [`RULE_PREFIX`] is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("expected @ATTRIBUTE=PATTERN, for example @type=Site")]
    Syntax,
    #[error("unknown attribute {0:?}: expected {expected}", expected = Attribute::EXPECTED)]
    Attribute(String),
    #[error("expected a non-empty pattern without ',' ('*' matches any run of characters)")]
    Pattern,
}

impl Rule {
    /// The rule in `entry`: `Ok(None)` when the entry is not a rule (no [`RULE_PREFIX`]).
    pub fn parse(entry: &str) -> Result<Option<Rule>, RuleError> {
        let Some(body) = entry.strip_prefix(RULE_PREFIX) else {
            return Ok(None);
        };
        let (attribute, pattern) = body.split_once('=').ok_or(RuleError::Syntax)?;
        let attribute = Attribute::parse(attribute.trim())
            .ok_or_else(|| RuleError::Attribute(attribute.trim().to_owned()))?;
        Ok(Some(Rule::new(attribute, pattern)?))
    }

    /// A rule from its parts (`[fleet] share_rule`), checked.
    pub fn new(attribute: Attribute, pattern: &str) -> Result<Rule, RuleError> {
        // The entries travel comma-separated (`refresh --share`).
        if pattern.is_empty() || pattern.contains(',') {
            return Err(RuleError::Pattern);
        }
        Ok(Rule {
            attribute,
            pattern: pattern.to_owned(),
        })
    }

    /// The rule as a share entry (`@type=Site*`).
    pub fn entry(&self) -> String {
        format!("{RULE_PREFIX}{}={}", self.attribute.as_str(), self.pattern)
    }

    pub fn matches(&self, node: &Node) -> bool {
        self.attribute
            .of(node)
            .is_some_and(|v| glob(&self.pattern, v))
    }
}

/// `*` matches any run of characters (also none); the rest literally.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no '*': the whole text had to be `first`
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// One parsed share entry.
enum Entry<'a> {
    All,
    Unparented,
    Node(&'a str),
    Rule(Rule),
}

fn entries(share: &[String]) -> Vec<(&String, Entry<'_>)> {
    share
        .iter()
        .map(|s| {
            let entry = match s.as_str() {
                SHARE_ALL => Entry::All,
                SHARE_UNPARENTED => Entry::Unparented,
                // A malformed rule (refused by lqos.conf's validation) selects nothing.
                _ => match Rule::parse(s) {
                    Ok(Some(r)) => Entry::Rule(r),
                    Ok(None) => Entry::Node(s),
                    Err(_) => Entry::Node(s),
                },
            };
            (s, entry)
        })
        .collect()
}

/// What [`take_share`] kept, and which share entries selected nothing.
#[derive(Debug)]
pub struct Shared {
    pub inputs: Inputs,
    /// Entries of the share that are not top-level nodes of this network.json, and rules
    /// that match none.
    pub unknown: Vec<String>,
}

/// The part of `inputs` under the top-level nodes named (or matched by a rule) in `share`
/// ([`SHARE_ALL`]: all; [`SHARE_UNPARENTED`]: the circuits without a parent node).
pub fn take_share(inputs: Inputs, share: &[String]) -> Shared {
    let entries = entries(share);
    let all = entries.iter().any(|(_, e)| matches!(e, Entry::All));
    let unparented = all || entries.iter().any(|(_, e)| matches!(e, Entry::Unparented));
    let old = &inputs.network;
    let roots: Vec<usize> = old.roots().collect();
    let selects = |e: &Entry<'_>, node: &Node| match e {
        Entry::All => true,
        Entry::Unparented => false,
        Entry::Node(name) => node.name == *name,
        Entry::Rule(r) => r.matches(node),
    };
    let unknown = entries
        .iter()
        .filter(|(_, e)| matches!(e, Entry::Node(_) | Entry::Rule(_)))
        .filter(|(_, e)| !roots.iter().any(|&r| selects(e, &old.nodes[r])))
        .map(|(s, _)| (*s).clone())
        .collect();
    // Old index -> new index, for every node kept (whole subtrees, parents first).
    let mut map: Vec<Option<usize>> = vec![None; old.nodes.len()];
    let mut network = Network::default();
    let mut stack: Vec<usize> = roots
        .iter()
        .rev()
        .copied()
        .filter(|&r| entries.iter().any(|(_, e)| selects(e, &old.nodes[r])))
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
    /// NET with attributes: SiteA is a "Site" with id "north-1", SiteB a "POP".
    const NET_TYPED: &str = r#"{
        "SiteA": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100, "type": "Site", "id": "north-1",
                  "children": {"APa": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50, "type": "POP"}}},
        "SiteB": {"downloadBandwidthMbps": 100, "uploadBandwidthMbps": 100, "type": "POP",
                  "children": {"APb": {"downloadBandwidthMbps": 50, "uploadBandwidthMbps": 50}}}
    }"#;
    const CSV: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n\
        1,c1,d1,d1,APa,,100.64.0.1,,1,1,10,10,\n\
        2,c2,d2,d2,APb,,100.64.0.2,,1,1,10,10,\n\
        3,c3,d3,d3,SiteB,,100.64.0.3,,1,1,10,10,\n\
        4,c4,d4,d4,,,100.64.0.4,,1,1,10,10,\n";

    fn inputs() -> Inputs {
        inputs_of(NET)
    }

    fn inputs_of(network: &str) -> Inputs {
        let texts = InputTexts {
            shaped_devices: CSV.as_bytes(),
            network,
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

    fn share(entries: &[&str]) -> Shared {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        take_share(inputs_of(NET_TYPED), &entries)
    }

    #[test]
    fn a_rule_takes_the_top_level_nodes_whose_attribute_matches() {
        // By type: only top-level nodes count (APa is a "POP" too, but under SiteA).
        let s = share(&["@type=POP"]);
        assert_eq!(ids(&s), ["2", "3"]);
        assert!(s.unknown.is_empty());
        let s = share(&["@type=Site"]);
        assert_eq!(ids(&s), ["1"]);
        // By id, with a wildcard; a node without the attribute (SiteB has no id) never matches.
        assert_eq!(ids(&share(&["@id=north-*"])), ["1"]);
        assert_eq!(ids(&share(&["@id=*"])), ["1"]);
        // By name, with names and "*unparented" beside it.
        assert_eq!(
            ids(&share(&["@name=*B", SHARE_UNPARENTED])),
            ["2", "3", "4"]
        );
        assert_eq!(ids(&share(&["@name=Site*", "SiteA"])), ["1", "2", "3"]);
        // A rule that matches nothing is reported like an unknown name.
        let s = share(&["@type=Tower", "SiteA"]);
        assert_eq!(ids(&s), ["1"]);
        assert_eq!(s.unknown, ["@type=Tower"]);
    }

    #[test]
    fn rules_parse_and_print_as_share_entries() {
        let r = Rule::parse("@type=Site*").expect("valid").expect("a rule");
        assert_eq!(
            (r.attribute, r.pattern.as_str()),
            (Attribute::Type, "Site*")
        );
        assert_eq!(r.entry(), "@type=Site*");
        assert_eq!(Rule::parse("SiteA"), Ok(None));
        assert_eq!(Rule::parse("@type"), Err(RuleError::Syntax));
        assert_eq!(
            Rule::parse("@kind=Site"),
            Err(RuleError::Attribute("kind".into()))
        );
        assert_eq!(Rule::parse("@type="), Err(RuleError::Pattern));
        assert_eq!(Rule::parse("@name=a,b"), Err(RuleError::Pattern));
        assert_eq!(
            RuleError::Attribute("kind".into()).to_string(),
            "unknown attribute \"kind\": expected name, type or id"
        );
    }

    #[test]
    fn glob_patterns() {
        for (p, t) in [
            ("a", "a"),
            ("*", ""),
            ("*", "abc"),
            ("a*", "abc"),
            ("*c", "abc"),
            ("a*c", "abc"),
            ("a*b*c", "aXbYc"),
            ("*b*", "abc"),
            ("a**c", "ac"),
        ] {
            assert!(glob(p, t), "{p} ~ {t}");
        }
        for (p, t) in [
            ("a", "ab"),
            ("a", "A"),
            ("a*c", "ab"),
            ("ab*bc", "abc"),
            ("*x*", "abc"),
            ("", "a"),
        ] {
            assert!(!glob(p, t), "{p} !~ {t}");
        }
    }
}
