//! `[fleet]` in lqos.conf.
use lqos_config::{Config, Location, Severity};
use std::path::Path;
use std::time::Duration;

const BASE: &str =
    "node_name = \"shaper-1\"\n[bridge]\nto_internet = \"eth0\"\nto_network = \"eth1\"\n";

fn parse(extra: &str) -> (Option<Config>, lqos_config::Diagnostics) {
    Config::parse(&format!("{BASE}{extra}"), "lqos.conf", Path::new("/etc"))
}

fn rejected_keys(extra: &str) -> Vec<String> {
    let (c, d) = parse(extra);
    assert!(c.is_none() || d.rejects(), "accepted: {extra}");
    d.iter()
        .filter(|x| x.severity == Severity::Reject)
        .filter_map(|x| match &x.location {
            Location::Key(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn without_fleet_nothing_changes() {
    let (c, d) = parse("");
    assert_eq!(c.expect("valid").fleet, None);
    assert!(!d.rejects());
    let (c, _) = parse("[fleet]\nenabled = false\n");
    assert_eq!(c.expect("valid").fleet, None);
}

#[test]
fn a_fleet_box_with_defaults() {
    let (c, d) = parse("[fleet]\nendpoints = [\"http://10.0.0.1:2379\", \"http://10.0.0.2:2379\"]\nshare = [\"SiteA\", \"*unparented\"]\n");
    assert!(!d.rejects(), "{d}");
    let f = c.expect("valid").fleet.expect("fleet");
    assert_eq!(f.endpoints.len(), 2);
    assert_eq!(f.name, "shaper-1", "defaults to node_name");
    assert_eq!(f.cluster, "default");
    assert_eq!(f.share, ["SiteA", "*unparented"]);
    assert_eq!(f.lease_ttl, Duration::from_secs(6));
    assert!(f.campaign);
    assert_eq!((f.tls, f.user, f.standby_of), (None, None, None));
}

#[test]
fn a_standby_and_auth() {
    let (c, d) = parse("[fleet]\nendpoints = [\"http://e:2379\"]\nname = \"b\"\nstandby_of = \"a\"\nuser = \"lqos\"\npassword = \"pw\"\nlease_ttl_secs = 3\ncampaign = false\n");
    assert!(!d.rejects(), "{d}");
    let f = c.expect("valid").fleet.expect("fleet");
    assert_eq!(f.standby_of.as_deref(), Some("a"));
    assert_eq!(f.user, Some(("lqos".into(), "pw".into())));
    assert_eq!(f.lease_ttl, Duration::from_secs(3));
    assert!(!f.campaign);
}

#[test]
fn bad_fleet_tables_are_rejected_with_their_key() {
    assert_eq!(
        rejected_keys("[fleet]\nshare = [\"A\"]\n"),
        ["fleet.endpoints"]
    );
    assert_eq!(
        rejected_keys("[fleet]\nendpoints = [\"10.0.0.1:2379\"]\nshare = [\"A\"]\n"),
        ["fleet.endpoints"]
    );
    assert_eq!(
        rejected_keys("[fleet]\nendpoints = [\"http://e:2379\"]\n"),
        ["fleet.share"]
    );
    assert_eq!(
        rejected_keys(
            "[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"A\"]\nstandby_of = \"b\"\n"
        ),
        ["fleet.share"]
    );
    assert_eq!(
        rejected_keys("[fleet]\nendpoints = [\"https://e:2379\"]\nshare = [\"A\"]\n"),
        ["fleet.ca_file"]
    );
    assert_eq!(
        rejected_keys(
            "[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"A\"]\nname = \"a/b\"\n"
        ),
        ["fleet.name"]
    );
    assert_eq!(
        rejected_keys("[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"A\"]\nuser = \"u\"\n"),
        ["fleet.user"]
    );
    assert_eq!(
        rejected_keys(
            "[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"A\"]\nlease_ttl_secs = 0\n"
        ),
        ["fleet.lease_ttl_secs"]
    );
}

#[test]
fn a_share_rule_becomes_rule_entries_after_the_named_nodes() {
    let (c, d) = parse("[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"SiteA\"]\nshare_rule = { attribute = \"type\", matches = [\"Site\", \"POP-*\"] }\n");
    assert!(!d.rejects(), "{d}");
    let f = c.expect("valid").fleet.expect("fleet");
    assert_eq!(f.share, ["SiteA", "@type=Site", "@type=POP-*"]);
    // A rule alone is a share; so is a rule written as a share entry.
    let (c, d) = parse("[fleet]\nendpoints = [\"http://e:2379\"]\nshare_rule = { attribute = \"name\", matches = [\"north-*\"] }\n");
    assert!(!d.rejects(), "{d}");
    assert_eq!(
        c.expect("valid").fleet.expect("fleet").share,
        ["@name=north-*"]
    );
    let (c, d) = parse("[fleet]\nendpoints = [\"http://e:2379\"]\nshare = [\"@id=7*\"]\n");
    assert!(!d.rejects(), "{d}");
    assert_eq!(c.expect("valid").fleet.expect("fleet").share, ["@id=7*"]);
}

#[test]
fn bad_share_rules_are_rejected_with_the_key_the_value_and_what_was_expected() {
    let rejected = |extra: &str| {
        let (c, d) = parse(&format!(
            "[fleet]\nendpoints = [\"http://e:2379\"]\n{extra}"
        ));
        assert!(c.is_none() || d.rejects(), "accepted: {extra}");
        d.iter()
            .filter(|x| x.severity == Severity::Reject)
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = rejected("share_rule = { attribute = \"kind\", matches = [\"Site\"] }\n");
    assert!(
        text.contains("fleet.share_rule.attribute")
            && text.contains("kind")
            && text.contains("name, type or id"),
        "{text}"
    );
    let text = rejected("share_rule = { matches = [\"Site\"] }\n");
    assert!(text.contains("fleet.share_rule.attribute"), "{text}");
    let text = rejected("share_rule = { attribute = \"type\", matches = [] }\n");
    assert!(
        text.contains("fleet.share_rule.matches") && text.contains("one or more patterns"),
        "{text}"
    );
    let text = rejected("share_rule = { attribute = \"type\", matches = [\"a,b\"] }\n");
    assert!(
        text.contains("fleet.share_rule.matches")
            && text.contains("a,b")
            && text.contains("without ','"),
        "{text}"
    );
    let text = rejected("share = [\"@kind=x\"]\n");
    assert!(
        text.contains("fleet.share")
            && text.contains("@kind=x")
            && text.contains("unknown attribute"),
        "{text}"
    );
    let text = rejected("share = [\"@type\"]\n");
    assert!(text.contains("@ATTRIBUTE=PATTERN"), "{text}");
    let text = rejected("name = \"b\"\nstandby_of = \"a\"\nshare_rule = { attribute = \"type\", matches = [\"Site\"] }\n");
    assert!(
        text.contains("fleet.share_rule") && text.contains("standby"),
        "{text}"
    );
    // An unknown key inside the table is not ignored.
    let text = rejected("share_rule = { attribute = \"type\", match = [\"Site\"] }\n");
    assert!(text.contains("match"), "{text}");
}
