//! The network.json topology: regions (some virtual), sites, relay sites and access points,
//! with plausible bandwidths that are oversubscribed towards the top, as in real ISPs.

use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::Rng;

/// Node type as written in network.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Site,
    Ap,
}

/// One node of the tree.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub name: String,
    pub id: String,
    pub kind: Kind,
    pub is_virtual: bool,
    pub down: u32,
    pub up: u32,
    pub children: Vec<usize>,
}

/// The tree plus, for every parented circuit, the index of the node it hangs from.
#[derive(Default)]
pub(crate) struct Topology {
    pub nodes: Vec<Node>,
    pub roots: Vec<usize>,
    /// One entry per parented circuit (in tree order; the caller shuffles).
    pub slots: Vec<usize>,
}

/// Access point radio capacities (Mbps) and their relative frequency.
const AP_DOWN: &[u32] = &[100, 200, 300, 450, 500, 600, 750, 1000];
const AP_DOWN_WEIGHT: &[u32] = &[3, 6, 8, 10, 12, 8, 6, 5];

/// Unique UUID-looking ids: the first 32 bits are a bijection of a counter, the rest random.
struct IdGen {
    mul: u32,
    add: u32,
    n: u32,
}

impl IdGen {
    fn new(rng: &mut StdRng) -> Self {
        IdGen {
            mul: rng.gen::<u32>() | 1,
            add: rng.gen(),
            n: 0,
        }
    }

    fn next(&mut self, rng: &mut StdRng) -> String {
        let hi = self.n.wrapping_mul(self.mul).wrapping_add(self.add);
        self.n += 1;
        let a: u16 = rng.gen();
        let b: u16 = (rng.gen::<u16>() & 0x0fff) | 0x4000;
        let c: u16 = (rng.gen::<u16>() & 0x3fff) | 0x8000;
        let d: u64 = rng.gen::<u64>() & 0xffff_ffff_ffff;
        format!("{hi:08x}-{a:04x}-{b:04x}-{c:04x}-{d:012x}")
    }
}

struct Builder<'r> {
    rng: &'r mut StdRng,
    ids: IdGen,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        name: String,
        kind: Kind,
        down: u32,
        up: u32,
        children: Vec<usize>,
    ) -> usize {
        let id = self.ids.next(self.rng);
        self.nodes.push(Node {
            name,
            id,
            kind,
            is_virtual: false,
            down,
            up,
            children,
        });
        self.nodes.len() - 1
    }

    fn ap(&mut self, name: String) -> usize {
        let down = AP_DOWN[crate::names::weighted(self.rng, AP_DOWN_WEIGHT)];
        let up = (down / 2).max(50);
        self.push(name, Kind::Ap, down, up, Vec::new())
    }

    /// A parent's capacity: a share (`pct` percent range) of the sum of its children's,
    /// rounded to `step`, never above that sum and never below the largest child.
    fn aggregate(&mut self, children: &[usize], pct: (u64, u64), step: u64) -> (u32, u32) {
        let kids = children.iter().map(|&c| &self.nodes[c]);
        let sum: u64 = kids.clone().map(|n| u64::from(n.down)).sum();
        let max_down = kids.clone().map(|n| n.down).max().unwrap_or(0);
        let max_up = kids.map(|n| n.up).max().unwrap_or(0);
        let share = sum * self.rng.gen_range(pct.0..=pct.1) / 100;
        let rounded = ((share + step / 2) / step * step).min(sum);
        let down = u32::try_from(rounded).unwrap_or(u32::MAX).max(max_down);
        (down, (down / 2).max(max_up))
    }
}

/// Builds a tree that can hold `parented` circuits: about 75 (30-120) per AP, 2-6 APs per
/// site, some sites with a relay site below them, sites grouped into regions (a few virtual).
/// About 2.5% of circuits hang directly from a site (business fibre drops).
pub(crate) fn build(rng: &mut StdRng, parented: usize) -> Topology {
    if parented == 0 {
        return Topology::default();
    }
    let site_direct = if parented >= 40 { parented / 40 } else { 0 };
    let on_aps = parented - site_direct;
    let n_aps = ((on_aps + 37) / 75).max(1);
    let weights: Vec<u64> = (0..n_aps).map(|_| rng.gen_range(30..=120)).collect();
    let counts = apportion(on_aps, &weights);

    let ids = IdGen::new(rng);
    let mut b = Builder {
        rng,
        ids,
        nodes: Vec::new(),
    };
    let mut sites = Vec::new();
    let mut ap_nodes = Vec::with_capacity(n_aps);
    let mut made = 0;
    while made < n_aps {
        let s = sites.len() + 1;
        let size = b.rng.gen_range(2..=6).min(n_aps - made);
        let aps: Vec<usize> = (1..=size).map(|k| b.ap(format!("AP_{s}_{k}"))).collect();
        ap_nodes.extend_from_slice(&aps);
        made += size;
        let mut direct = aps;
        if direct.len() >= 3 && b.rng.gen_ratio(1, 5) {
            let r = b.rng.gen_range(1..=2);
            let relayed = direct.split_off(direct.len() - r);
            let (down, up) = b.aggregate(&relayed, (60, 95), 100);
            let relay = b.push(format!("Relay_{s}"), Kind::Site, down, up, relayed);
            direct.push(relay);
        }
        let (down, up) = b.aggregate(&direct, (50, 90), 500);
        sites.push(b.push(format!("Site_{s}"), Kind::Site, down, up, direct));
    }

    let roots = group_into_regions(&mut b, &sites);

    let mut slots = Vec::with_capacity(parented);
    for (&ap, &count) in ap_nodes.iter().zip(&counts) {
        slots.resize(slots.len() + count, ap);
    }
    for _ in 0..site_direct {
        slots.push(sites[b.rng.gen_range(0..sites.len())]);
    }
    Topology {
        nodes: b.nodes,
        roots,
        slots,
    }
}

/// Groups sites into regions (about 12 sites each, at least 2 regions from 4 sites up);
/// about one region in four is virtual, and about 10% of sites stay at the top level.
fn group_into_regions(b: &mut Builder, sites: &[usize]) -> Vec<usize> {
    let n = sites.len();
    if n < 2 {
        return sites.to_vec();
    }
    let n_regions = if n < 4 { 1 } else { n.div_ceil(12).max(2) };
    let n_virtual = (n_regions / 4).max(1);
    let mut is_virtual = vec![false; n_regions];
    for i in sample(b.rng, n_regions, n_virtual).iter() {
        is_virtual[i] = true;
    }
    let mut roots = Vec::new();
    for (r, &virt) in is_virtual.iter().enumerate() {
        let chunk = &sites[r * n / n_regions..(r + 1) * n / n_regions];
        let mut members = Vec::new();
        let mut loose = Vec::new();
        for (i, &s) in chunk.iter().enumerate() {
            if i > 0 && b.rng.gen_ratio(1, 10) {
                loose.push(s);
            } else {
                members.push(s);
            }
        }
        let (down, up) = b.aggregate(&members, (40, 80), 1000);
        let region = b.push(format!("Region_{}", r + 1), Kind::Site, down, up, members);
        b.nodes[region].is_virtual = virt;
        roots.push(region);
        roots.extend(loose);
    }
    roots
}

/// Splits `total` into parts proportional to `weights`, summing exactly to `total`.
fn apportion(total: usize, weights: &[u64]) -> Vec<usize> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum::<u128>().max(1);
    let mut cum: u128 = 0;
    let mut prev = 0usize;
    weights
        .iter()
        .map(|&w| {
            cum += u128::from(w);
            let upto = (total as u128 * cum / sum) as usize;
            let part = upto - prev;
            prev = upto;
            part
        })
        .collect()
}

/// Renders the tree as pretty-printed network.json (children in creation order).
pub(crate) fn render_json(topo: &Topology) -> String {
    let mut out = String::with_capacity(topo.nodes.len() * 220 + 4);
    render_object(&topo.nodes, &topo.roots, 0, &mut out);
    out.push('\n');
    out
}

fn render_object(nodes: &[Node], members: &[usize], depth: usize, out: &mut String) {
    if members.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    let pad = "  ".repeat(depth + 1);
    for (i, &m) in members.iter().enumerate() {
        let n = &nodes[m];
        let kind = match n.kind {
            Kind::Site => "Site",
            Kind::Ap => "AP",
        };
        out.push_str(&format!(
            "{pad}{}: {{\n{pad}  \"downloadBandwidthMbps\": {},\n{pad}  \"uploadBandwidthMbps\": {},\n\
             {pad}  \"type\": \"{kind}\",\n{pad}  \"id\": {},\n",
            json_str(&n.name),
            n.down,
            n.up,
            json_str(&n.id)
        ));
        if n.is_virtual {
            out.push_str(&format!("{pad}  \"virtual\": true,\n"));
        }
        out.push_str(&format!("{pad}  \"children\": "));
        render_object(nodes, &n.children, depth + 2, out);
        out.push('\n');
        out.push_str(&pad);
        out.push('}');
        if i + 1 < members.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str(&"  ".repeat(depth));
    out.push('}');
}

/// A JSON string literal.
fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
