mod common;
use common::*;
use lqos_config::{Location, Severity, SqmKind};

#[test]
fn legacy_13_column_layout_with_quoted_lists_and_fractional_rates() {
    let (inputs, d) = load(&read("legacy13.csv"), &read("network.json"), None);
    let inputs = inputs.expect("legacy file accepted");
    assert!(with(&d, Severity::Quarantine).is_empty(), "{d}");
    assert_eq!(inputs.circuits.len(), 2);
    let c1 = &inputs.circuits[0];
    assert_eq!(c1.name, "Smith, John");
    assert_eq!(
        (
            c1.download_min,
            c1.upload_min,
            c1.download_max,
            c1.upload_max
        ),
        (12.5, 2.5, 25.0, 5.0)
    );
    let c2 = &inputs.circuits[1];
    assert_eq!(
        c2.devices.len(),
        2,
        "rows sharing a circuit id form one circuit"
    );
    let ips: Vec<String> = c2
        .devices
        .iter()
        .flat_map(|d| &d.ips)
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        ips,
        [
            "100.64.0.2/32",
            "100.64.0.3/32",
            "2001:db8:2::/56",
            "2001:db8:3::/64"
        ]
    );
    assert_eq!(inputs.network.nodes[c2.parent.unwrap()].name, "AP_A");
}

#[test]
fn bom_crlf_comments_and_header_spelling_do_not_matter() {
    let (inputs, d) = load(&read("bom_crlf.csv"), "{}", None);
    let inputs = inputs.unwrap_or_else(|| panic!("{d}"));
    assert_eq!(inputs.circuits.len(), 2);
    assert_eq!(
        inputs.circuits[0].id, "C1",
        "BOM stripped from the first header"
    );
    let sqm = inputs.circuits[0].sqm.unwrap();
    assert_eq!(
        (sqm.download, sqm.upload),
        (Some(SqmKind::FqCodel), Some(SqmKind::None))
    );
    assert_eq!(
        inputs.circuits[1].devices[0].ips[0].to_string(),
        "100.64.1.8/29"
    );
    assert_eq!(inputs.circuits[1].upload_min, 0.1);
    assert!(
        inputs.circuits.iter().all(|c| c.parent.is_none()),
        "flat network: unparented"
    );
}

#[test]
fn headerless_legacy_rows_are_read_by_position() {
    let csv = "C1,One,D1,R1,,,100.64.0.1,,1,1,10,2,\n";
    let (inputs, d) = load(csv, "{}", None);
    assert_eq!(
        inputs.unwrap_or_else(|| panic!("{d}")).circuits[0].download_max,
        10.0
    );
}

#[test]
fn every_row_problem_is_reported_with_line_value_and_only_its_circuit_is_quarantined() {
    let (inputs, d) = load(&read("bad_rows.csv"), &read("network.json"), None);
    let inputs = inputs.expect("row problems quarantine circuits, they do not reject the file");
    let ids: Vec<&str> = inputs.circuits.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["GOOD1", "ORPHAN", "GOOD2"]);
    let mut q = inputs.quarantined.clone();
    q.sort();
    assert_eq!(
        q,
        [
            "BADIP", "BADPFX", "DUPIP", "MINMAX", "NOIP", "OVERLAP", "RATE1", "RATE2", "RATE3",
            "SPLIT"
        ]
    );

    let expect = |line: u64, value: &str, words: &str| {
        let found = at_line(&d, line);
        assert!(
            found.iter().any(|x| x.value.as_deref() == Some(value)
                && x.message.contains(words)
                && x.file == "ShapedDevices.csv"),
            "line {line}: no diagnostic with value {value:?} and {words:?}; got {found:#?}"
        );
    };
    expect(
        4,
        "fast",
        "Download Min Mbps: expected a rate in Mbps greater than 0",
    );
    expect(5, "0", "Upload Min Mbps");
    expect(6, "-20", "Download Max Mbps");
    expect(7, "30", "download minimum is above the download maximum");
    expect(8, "100.64.0.300", "expected an IP address or CIDR prefix");
    expect(9, "100.64.1.0/33", "expected an IP address or CIDR prefix");
    expect(10, "NOIP", "no usable IPv4 or IPv6 address");
    expect(12, "AP_B", "Parent Node disagrees with line 11");
    expect(12, "25", "Download Max Mbps disagrees with line 11");
    expect(
        13,
        "100.64.0.1/32",
        "overlaps 100.64.0.1/32 of circuit \"GOOD1\" (line 3)",
    );
    expect(14, "100.64.0.0/29", "overlaps");
    expect(15, "AP_Nowhere", "not in network.json");
    expect(16, "", "Circuit ID: expected a circuit id");
    let orphan = inputs.circuits.iter().find(|c| c.id == "ORPHAN").unwrap();
    assert_eq!(
        orphan.parent, None,
        "unknown parent: generated parent node, still shaped"
    );
    // The quarantine text names the circuit and says it is not shaped.
    let shown = at_line(&d, 4)[0].to_string();
    assert_eq!(shown, "error: ShapedDevices.csv:4: \"fast\": Download Min Mbps: expected a rate in Mbps greater than 0 (fractions allowed) [circuit \"RATE1\" quarantined: not shaped]");
}

#[test]
fn missing_required_columns_reject_the_file() {
    let (inputs, d) = load(&read("missing_columns.csv"), "{}", None);
    assert!(inputs.is_none());
    let r = with(&d, Severity::Reject);
    assert_eq!(r.len(), 1, "{d}");
    assert!(
        r[0].message
            .contains("Parent Node, IPv6, Upload Min Mbps, Upload Max Mbps"),
        "{}",
        r[0]
    );
}

#[test]
fn empty_files_are_refused() {
    for csv in ["", "# only a comment\n", "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n"] {
        let (inputs, d) = load(csv, "{}", None);
        assert!(inputs.is_none(), "{csv:?}");
        assert!(with(&d, Severity::Reject)[0].message.contains("no devices"), "{d}");
    }
}

#[test]
fn a_file_where_every_circuit_is_bad_is_refused_not_applied_empty() {
    let csv = "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\nC1,D1,,100.64.0.1,,x,1,1,1\n";
    let (inputs, d) = load(csv, "{}", None);
    assert!(inputs.is_none());
    assert!(
        d.iter()
            .any(|x| x.severity == Severity::Reject
                && x.message.contains("no circuit left to shape")),
        "{d}"
    );
}

#[test]
fn unreadable_csv_and_non_utf8_are_errors_not_panics() {
    let mut bytes = b"Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\nC1,D".to_vec();
    bytes.extend_from_slice(b"\xff\xfe1,,100.64.0.1,,1,1,1,1\n");
    let texts = lqos_config::InputTexts {
        shaped_devices: &bytes,
        network: "{}",
        overrides: None,
    };
    let (inputs, d) = lqos_config::parse_inputs(&texts, &Default::default());
    assert!(inputs.is_none());
    assert!(
        with(&d, Severity::Reject)
            .iter()
            .any(|x| x.message.contains("UTF-8")),
        "{d}"
    );
}

#[test]
fn host_bits_and_duplicates_within_a_circuit_are_warnings() {
    let csv = "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\nC1,D1,,\"100.64.0.9/29, 100.64.0.8/29\",,1,1,2,2\n";
    let (inputs, d) = load(csv, "{}", None);
    let c = &inputs.unwrap().circuits[0];
    assert_eq!(c.devices[0].ips.len(), 1);
    assert_eq!(with(&d, Severity::Warning).len(), 2, "{d}");
}

#[test]
fn ip_ranges_drop_ignored_and_disallowed_addresses_per_family() {
    let csv = "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps\n\
               C1,D1,,\"100.64.0.1, 192.0.2.1, 10.1.1.1\",2001:db8::/64,1,1,2,2\n";
    let ranges = lqos_config::IpRanges {
        ignore_subnets: vec!["10.0.0.0/8".parse().unwrap()],
        allow_subnets: vec![
            "100.64.0.0/10".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ],
    };
    let texts = lqos_config::InputTexts {
        shaped_devices: csv.as_bytes(),
        network: "{}",
        overrides: None,
    };
    let (inputs, d) = lqos_config::parse_inputs(&texts, &ranges);
    let ips: Vec<String> = inputs.unwrap().circuits[0].devices[0]
        .ips
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        ips,
        ["100.64.0.1/32", "2001:db8::/64"],
        "no IPv6 allow entry: IPv6 allowed"
    );
    assert_eq!(with(&d, Severity::Warning).len(), 2, "{d}");
}

/// Issue 13 (1.4): "Unicode text" from a spreadsheet is UTF-16LE with a byte order mark.
#[test]
fn utf16_with_a_bom_is_read_in_either_byte_order_with_the_same_lines() {
    let le = std::fs::read(fixture("utf16le_bom.csv")).unwrap();
    assert!(le.starts_with(b"\xFF\xFE"), "the fixture is UTF-16LE");
    let (text, _) = lqos_config::text_encoding::decode(&le).unwrap();
    let be = lqos_config::TextEncoding::Utf16Be.encode(&text);
    let utf8_bom = lqos_config::TextEncoding::Utf8Bom.encode(&text);
    for (name, bytes) in [("LE", &le), ("BE", &be), ("UTF-8 BOM", &utf8_bom)] {
        let (inputs, d) = load_bytes(bytes, &read("network.json"), None);
        let inputs = inputs.unwrap_or_else(|| panic!("{name}: {d}"));
        let names: Vec<&str> = inputs.circuits.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["Conceição, Ana", "Søren Ødegård", "Đỗ Thị Hương"],
            "{name}"
        );
        assert_eq!(inputs.circuits[0].id, "U1", "{name}: BOM not in the header");
        assert!(inputs.circuits[0].devices[0].comment.ends_with('\u{1F4C8}'));
        assert_eq!(inputs.circuits[2].devices[0].ips.len(), 2);
        assert_eq!(inputs.quarantined, ["U3"], "{name}");
        let bad = at_line(&d, 4);
        assert!(
            bad.iter()
                .any(|x| x.value.as_deref() == Some("ten") && x.severity == Severity::Quarantine),
            "{name}: the bad rate is reported on its own line 4: {d}"
        );
    }
}

#[test]
fn malformed_utf16_is_refused_naming_the_file_and_line() {
    let mut odd = std::fs::read(fixture("utf16le_bom.csv")).unwrap();
    odd.pop();
    let (inputs, d) = load_bytes(&odd, &read("network.json"), None);
    assert!(inputs.is_none());
    let r = with(&d, Severity::Reject);
    assert_eq!(r.len(), 1, "{d}");
    assert_eq!(r[0].file, "ShapedDevices.csv");
    assert_eq!(
        r[0].location,
        Location::Line {
            line: 5,
            column: None
        },
        "{d}"
    );
    assert!(r[0].message.contains("odd number of bytes"), "{d}");

    // A high surrogate followed by a comma on line 2.
    let mut lone = lqos_config::TextEncoding::Utf16Le.encode(&read("legacy13.csv"));
    let at = lone.len() / 2 / 2 * 2;
    lone[at..at + 2].copy_from_slice(&0xD83Du16.to_le_bytes());
    let (inputs, d) = load_bytes(&lone, &read("network.json"), None);
    assert!(inputs.is_none());
    let r = with(&d, Severity::Reject);
    assert!(
        r.len() == 1 && r[0].message.contains("unpaired surrogate 0xD83D"),
        "{d}"
    );
    assert!(matches!(r[0].location, Location::Line { .. }), "{d}");

    let no_bom = &std::fs::read(fixture("utf16le_bom.csv")).unwrap()[2..];
    let (_, d) = load_bytes(no_bom, &read("network.json"), None);
    assert!(
        d.to_string()
            .contains("looks like UTF-16 without a byte order mark"),
        "{d}"
    );
}

/// Issue 13 (1.4): LibreQoS's example has 13-field rows under a 15-column header.
#[test]
fn legacy_rows_under_a_modern_header_are_one_diagnostic_at_the_header() {
    let (inputs, d) = load(
        &read("libreqos_shifted_example.csv"),
        &read("network.json"),
        None,
    );
    assert!(inputs.is_none(), "nothing is guessed");
    assert_eq!(d.items.len(), 1, "one diagnostic, not one per cell: {d}");
    let x = &d.items[0];
    assert_eq!(x.severity, Severity::Reject);
    assert_eq!(x.file, "ShapedDevices.csv");
    assert_eq!(
        x.location,
        Location::Line {
            line: 4,
            column: None
        }
    );
    for words in [
        "header has 15 columns",
        "5 device row(s) has 13 fields",
        "legacy 13-column layout",
        "Parent Node ID",
        "Anchor Node ID",
    ] {
        assert!(x.message.contains(words), "{words:?} not in {x}");
    }

    // One row laid out right is enough to read the file by its header, as before.
    let mixed = read("libreqos_shifted_example.csv")
        + "20005,Fixed,6,Device 6,AP_A,,,,100.64.9.7,,1,1,10,2,\n";
    let (inputs, d) = load(&mixed, &read("network.json"), None);
    let inputs = inputs.unwrap_or_else(|| panic!("{d}"));
    assert_eq!(inputs.circuits.len(), 1);
    assert!(!d.to_string().contains("legacy 13-column layout"));
}

/// csv-core ends a CRLF record at its CR, and a last row without a line end at EOF: both once
/// put diagnostics a line early.
#[test]
fn line_numbers_are_right_with_crlf_comments_and_no_final_newline() {
    let rows = [
        "# exported",
        "Circuit ID,Device ID,Parent Node,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps",
        "A,A1,,100.64.0.1,,1,1,2,2",
        "# a comment between rows",
        "B,B1,,100.64.0.2,,x,1,2,2",
        "\"C\",C1,,100.64.0.3,,1,1,2,y",
    ];
    for term in ["\n", "\r\n"] {
        for last in ["", term] {
            let csv = rows.join(term) + last;
            let (_, d) = load(&csv, "{}", None);
            for (line, value) in [(5, "x"), (6, "y")] {
                assert!(
                    at_line(&d, line)
                        .iter()
                        .any(|x| x.value.as_deref() == Some(value)),
                    "{term:?} {last:?}: {value:?} not on line {line}: {d}"
                );
            }
        }
    }
}
