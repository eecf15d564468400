//! Circuits and devices: the rows of ShapedDevices.csv.

use crate::addr::Allocator;
use crate::names::{self, pick, weighted, Plan};
use crate::tree::{Kind, Node, Topology};
use rand::rngs::StdRng;
use rand::Rng;

/// The modern (16-column) ShapedDevices.csv header.
pub(crate) const HEADER: [&str; 16] = [
    "Circuit ID",
    "Circuit Name",
    "Device ID",
    "Device Name",
    "Parent Node",
    "Parent Node ID",
    "Anchor Node ID",
    "MAC",
    "IPv4",
    "IPv6",
    "Download Min Mbps",
    "Upload Min Mbps",
    "Download Max Mbps",
    "Upload Max Mbps",
    "Comment",
    "sqm",
];

/// How a circuit gets IPv6.
#[derive(Clone, Copy, PartialEq, Eq)]
enum V6 {
    Prefix56,
    Prefix64,
    None,
}

/// Everything shared by the rows of one circuit.
struct Circuit<'a> {
    id: String,
    name: String,
    who: String,
    business: bool,
    parent: Option<&'a Node>,
    plan: Plan,
    comment: &'static str,
    sqm: &'static str,
    v6: V6,
}

/// Writes the CSV (comment line, header, one row per device) and returns it with the number
/// of devices. `parents[i]` is circuit i's parent node index, or `None` for unparented.
pub(crate) fn render_csv(
    rng: &mut StdRng,
    topo: &Topology,
    parents: &[Option<usize>],
    banner: &str,
) -> (String, usize) {
    let mut out = String::with_capacity(parents.len() * 200 + 256);
    out.push_str(banner);
    out.push('\n');
    write_row(&mut out, &HEADER);

    let mut alloc = Allocator::new();
    let mac_mul: u32 = 0x9E3779; // odd: a bijection on 24 bits
    let mac_add: u32 = rng.gen::<u32>() & 0xff_ffff;
    let mut device_no: u32 = 0;

    for (i, parent) in parents.iter().enumerate() {
        let c = circuit(rng, i, parent.map(|p| &topo.nodes[p]));
        let n_dev = if c.business {
            1 + usize::from(rng.gen_ratio(3, 10))
        } else {
            1 + weighted(rng, &[30, 40, 30])
        };
        for k in 0..n_dev {
            let oui = names::OUIS[rng.gen_range(0..names::OUIS.len())];
            let low = device_no.wrapping_mul(mac_mul).wrapping_add(mac_add) & 0xff_ffff;
            device_no += 1;
            let mac = if rng.gen_ratio(19, 20) {
                let [_, a, b, d] = low.to_be_bytes();
                format!(
                    "{:02X}:{:02X}:{:02X}:{a:02X}:{b:02X}:{d:02X}",
                    oui[0], oui[1], oui[2]
                )
            } else {
                String::new()
            };
            let ipv4 = device_v4(rng, &mut alloc, c.business && k == 0);
            let ipv6 = match (k, c.v6) {
                (_, V6::None) => None,
                (0, V6::Prefix56) => alloc.prefix56(rng),
                (0, V6::Prefix64) => alloc.prefix64(rng),
                _ if rng.gen_ratio(3, 10) => alloc.prefix64(rng),
                _ => None,
            }
            .unwrap_or_default();
            let role = match k {
                0 if c.business => "Router",
                0 => "CPE",
                1 => "Router",
                _ => "Mesh",
            };
            let (pname, pid) = c
                .parent
                .map(|n| (n.name.as_str(), n.id.as_str()))
                .unwrap_or(("", ""));
            let p = c.plan;
            write_row(
                &mut out,
                &[
                    &c.id,
                    &c.name,
                    &format!("{}-{}", c.id, k + 1),
                    &format!("{} {role}", c.who),
                    pname,
                    pid,
                    "",
                    &mac,
                    &ipv4,
                    &ipv6,
                    &(p.down / 2.0).to_string(),
                    &(p.up / 2.0).to_string(),
                    &p.down.to_string(),
                    &p.up.to_string(),
                    c.comment,
                    c.sqm,
                ],
            );
        }
    }
    (out, device_no as usize)
}

/// Draws the circuit-wide properties of circuit number `i`.
fn circuit<'a>(rng: &mut StdRng, i: usize, parent: Option<&'a Node>) -> Circuit<'a> {
    let business = match parent {
        Some(n) if n.kind == Kind::Site => true,
        _ => rng.gen_ratio(2, 25),
    };
    let last = pick(rng, names::LAST_NAMES);
    let (name, who) = if business {
        let kind = pick(rng, names::BUSINESS_KINDS);
        let form = pick(rng, names::BUSINESS_FORMS);
        (format!("{last} {kind}{form}"), format!("{last} {kind}"))
    } else {
        let first = pick(rng, names::FIRST_NAMES);
        (format!("{last}, {first}"), format!("{first} {last}"))
    };
    let cap = parent.map_or((f64::INFINITY, f64::INFINITY), |n| {
        (f64::from(n.down), f64::from(n.up))
    });
    let plans = if business {
        names::BUSINESS
    } else {
        names::RESIDENTIAL
    };
    let plan = names::pick_plan(rng, plans, cap);
    let comment = if rng.gen_ratio(1, 12) {
        pick(rng, names::COMMENTS)
    } else {
        ""
    };
    let sqm = ["", "cake", "fq_codel", "fq_codel/cake"][weighted(rng, &[94, 3, 2, 1])];
    let v6 = [V6::Prefix56, V6::Prefix64, V6::None][weighted(rng, &[55, 25, 20])];
    Circuit {
        id: (100_000 + i).to_string(),
        name,
        who,
        business,
        parent,
        plan,
        comment,
        sqm,
        v6,
    }
}

/// The IPv4 cell of one device: a /29 for (most) business routers, otherwise one /32
/// (rarely written with an explicit `/32`), or rarely two comma-separated /32s.
fn device_v4(rng: &mut StdRng, alloc: &mut Allocator, business_router: bool) -> String {
    if business_router && rng.gen_ratio(3, 5) {
        if let Some(block) = alloc.block29() {
            return format!("{block}/29");
        }
    }
    let first = alloc.host(rng);
    if rng.gen_ratio(1, 100) {
        let second = alloc.host(rng);
        return format!("{first}, {second}");
    }
    if rng.gen_ratio(1, 100) {
        return format!("{first}/32");
    }
    first.to_string()
}

/// Appends one RFC 4180 record: fields with a comma, quote or line break are quoted.
fn write_row(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            for ch in f.chars() {
                if ch == '"' {
                    out.push('"');
                }
                out.push(ch);
            }
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
}
