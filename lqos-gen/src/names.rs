//! Word lists, vendor prefixes and service plans that make the output look like a real ISP's.

use rand::rngs::StdRng;
use rand::Rng;

/// Family names. A few carry apostrophes, spaces and non-ASCII letters on purpose.
pub(crate) const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "O'Brien",
    "Núñez",
    "Van der Berg",
    "Kowalski",
];

/// Given names.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Donald",
    "Sandra",
    "José",
    "Zoë",
    "Mary Ann",
];

/// Kinds of small business found on a rural or suburban WISP.
pub(crate) const BUSINESS_KINDS: &[&str] = &[
    "Hardware",
    "Dental",
    "Auto Repair",
    "Feed & Seed",
    "Veterinary Clinic",
    "Law Office",
    "Bakery",
    "Insurance",
    "Farms",
    "Construction",
    "Family Medicine",
    "Grain Elevator",
];

/// Legal-form suffixes; most contain a comma so the name needs CSV quoting.
pub(crate) const BUSINESS_FORMS: &[&str] = &[", LLC", ", Inc.", " & Sons, Inc.", ", PC", ""];

/// Infrequent operator comments; one contains double quotes to exercise CSV escaping.
pub(crate) const COMMENTS: &[&str] = &[
    "VIP",
    "Static IP",
    "Tower climb needed",
    "Gate code \"4417\"",
    "Migrated from old billing",
    "Pays annually",
    "Dog on property",
];

/// Vendor OUIs (Ubiquiti, MikroTik, Cambium, TP-Link, Mimosa, Tarana-ish).
pub(crate) const OUIS: &[[u8; 3]] = &[
    [0x24, 0x5A, 0x4C],
    [0x74, 0x83, 0xC2],
    [0xFC, 0xEC, 0xDA],
    [0x48, 0x8F, 0x5A],
    [0x00, 0x04, 0x56],
    [0x50, 0xC7, 0xBF],
    [0x20, 0xB5, 0xC6],
    [0x58, 0xC1, 0x7A],
];

/// A service plan: maximum download/upload in Mbps and a relative popularity.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub down: f64,
    pub up: f64,
    pub weight: u32,
}

const fn plan(down: f64, up: f64, weight: u32) -> Plan {
    Plan { down, up, weight }
}

/// Residential plans (asymmetric), weighted towards the middle tiers.
pub(crate) const RESIDENTIAL: &[Plan] = &[
    plan(12.5, 2.5, 4),
    plan(25.0, 5.0, 10),
    plan(50.0, 10.0, 18),
    plan(100.0, 20.0, 28),
    plan(250.0, 25.0, 20),
    plan(500.0, 50.0, 12),
    plan(1000.0, 100.0, 8),
];

/// Business plans (symmetric).
pub(crate) const BUSINESS: &[Plan] = &[
    plan(20.0, 20.0, 10),
    plan(50.0, 50.0, 20),
    plan(100.0, 100.0, 30),
    plan(250.0, 250.0, 20),
    plan(500.0, 500.0, 12),
    plan(1000.0, 1000.0, 8),
];

/// Picks a weighted plan among those that fit within `cap` (down, up); if none fits, the
/// smallest residential plan, which fits every generated node.
pub(crate) fn pick_plan(rng: &mut StdRng, plans: &[Plan], cap: (f64, f64)) -> Plan {
    let fits = |p: &&Plan| p.down <= cap.0 && p.up <= cap.1;
    let total: u32 = plans.iter().filter(fits).map(|p| p.weight).sum();
    if total == 0 {
        return RESIDENTIAL[0];
    }
    let mut x = rng.gen_range(0..total);
    for p in plans.iter().filter(fits) {
        if x < p.weight {
            return *p;
        }
        x -= p.weight;
    }
    RESIDENTIAL[0]
}

/// Picks one element of a non-empty list.
pub(crate) fn pick<'a>(rng: &mut StdRng, list: &[&'a str]) -> &'a str {
    list[rng.gen_range(0..list.len())]
}

/// Picks an index according to integer weights (all weights summing to more than zero).
pub(crate) fn weighted(rng: &mut StdRng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut x = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    0
}
