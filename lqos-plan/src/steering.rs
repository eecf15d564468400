//! Every path from a queue number to a CPU, checked against a machine: XDP steers a circuit's
//! packets to the CPU of its mapping through the cpumap, XPS sends what that CPU transmits to
//! the tx queue of the HTB the plan gives that CPU, and the TC program's classid must name a
//! class of that very HTB. A CPU that does not exist (or has no cpumap entry), or a mapping
//! whose classid belongs to another queue's HTB, passes the circuit's packets unshaped: such a
//! plan is refused before anything is applied.

use crate::{Direction, QueuePlan};

/// What the machine offers the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steering {
    /// The online CPUs (ids as the kernel numbers them).
    pub online_cpus: Vec<u32>,
    /// cpumap entries: CPUs `0..cpumap_entries` can be steered to.
    pub cpumap_entries: u32,
    /// On a stick, upload goes to CPU `mapping.cpu + plan.queues`.
    pub on_a_stick: bool,
}

/// Most mapping problems listed one by one; the rest are counted.
const LISTED: usize = 5;

/// Every reason the plan would leave packets unshaped on this machine (empty: it steers).
pub fn steering_problems(plan: &QueuePlan, machine: &Steering) -> Vec<String> {
    let mut problems = Vec::new();
    // (direction, cpu) -> HTB major of that CPU's queue: a few entries, searched for every
    // mapping, so a list (a hash map's hashing costs more).
    let mut majors: Vec<((Direction, u32), u16)> = Vec::new();
    for iface in &plan.interfaces {
        for q in &iface.htbs {
            match majors.iter_mut().find(|(k, _)| *k == (q.direction, q.cpu)) {
                Some(entry) => entry.1 = q.major,
                None => majors.push(((q.direction, q.cpu), q.major)),
            }
            let why = if !machine.online_cpus.contains(&q.cpu) {
                "is not online"
            } else if q.cpu >= machine.cpumap_entries {
                "has no cpumap entry"
            } else {
                continue;
            };
            problems.push(format!(
                "{}: the {} HTB {:x}: (tx queue {}) is served by CPU {}, which {why} on this machine \
                 (online CPUs: {}); its circuits would pass unshaped: lower override_available_queues",
                iface.name,
                q.direction,
                q.major,
                q.mq_minor,
                q.cpu,
                cpu_list(&machine.online_cpus)
            ));
        }
    }
    let offset = if machine.on_a_stick {
        u32::from(plan.queues)
    } else {
        0
    };
    let mut bad = 0usize;
    for m in &plan.mappings {
        for (direction, cpu, class) in [
            (Direction::Download, m.cpu, m.download),
            (Direction::Upload, m.cpu.saturating_add(offset), m.upload),
        ] {
            let found = majors
                .iter()
                .find(|(k, _)| *k == (direction, cpu))
                .map(|(_, major)| major);
            if found == Some(&class.major) {
                continue;
            }
            bad += 1;
            if bad <= LISTED {
                let serving =
                    found.map_or("no queue".to_owned(), |major| format!("the HTB {major:x}:"));
                problems.push(format!(
                    "{} (circuit {}): {direction} is steered to CPU {cpu}, served by {serving}, \
                     but its class is {class}: its packets would pass unshaped",
                    m.prefix, m.circuit_id
                ));
            }
        }
    }
    if bad > LISTED {
        problems.push(format!(
            "... and {} more mappings steered to a CPU whose queue lacks their class",
            bad - LISTED
        ));
    }
    problems
}

/// Parses a kernel CPU list such as `0-3,6` (sysfs `online`, `possible`).
pub fn parse_cpu_list(list: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in list.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        if b < a || b - a > 65_535 {
            return None;
        }
        cpus.extend(a..=b);
    }
    Some(cpus)
}

/// The online CPUs of this machine, from `/sys/devices/system/cpu/online`.
pub fn online_cpus() -> Option<Vec<u32>> {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|s| parse_cpu_list(&s))
}

/// `0-3,6` again, for messages.
fn cpu_list(cpus: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassId, HtbQueue, InterfacePlan, IpMapping};

    fn htb(major: u16, direction: Direction, cpu: u32) -> HtbQueue {
        HtbQueue {
            major,
            mq_minor: major,
            direction,
            cpu,
            classes: Vec::new(),
        }
    }

    fn mapping(cpu: u32, down: u16, up: u16) -> IpMapping {
        IpMapping {
            prefix: "100.64.0.1/32".parse().unwrap(),
            cpu,
            download: ClassId::new(down, 5),
            upload: ClassId::new(up, 5),
            circuit_id: "c1".into(),
        }
    }

    /// A bridge plan of `queues` queues: download HTB i+1 and upload HTB i+1 on CPU i.
    fn bridge(queues: u16, mappings: Vec<IpMapping>) -> QueuePlan {
        let side = |name: &str, direction| InterfacePlan {
            name: name.into(),
            htbs: (0..queues)
                .map(|i| htb(i + 1, direction, u32::from(i)))
                .collect(),
        };
        QueuePlan {
            queues,
            interfaces: vec![
                side("down0", Direction::Download),
                side("up0", Direction::Upload),
            ],
            mappings,
        }
    }

    fn machine(cpus: u32) -> Steering {
        Steering {
            online_cpus: (0..cpus).collect(),
            cpumap_entries: cpus,
            on_a_stick: false,
        }
    }

    #[test]
    fn a_plan_within_the_cpus_steers() {
        let plan = bridge(2, vec![mapping(0, 1, 1), mapping(1, 2, 2)]);
        assert_eq!(steering_problems(&plan, &machine(2)), Vec::<String>::new());
    }

    #[test]
    fn queues_beyond_the_cpus_are_refused() {
        // Issue 13, bug 1: 4 queues on 2 CPUs left the circuits of queues 3 and 4 unshaped.
        let plan = bridge(4, vec![mapping(3, 4, 4)]);
        let p = steering_problems(&plan, &machine(2));
        assert_eq!(p.len(), 4, "two HTBs per direction lack a CPU: {p:#?}");
        assert!(p[0].contains("CPU 2, which is not online"), "{}", p[0]);
        assert!(p[0].contains("online CPUs: 0-1"), "{}", p[0]);
        // A CPU that is online but beyond the cpumap.
        let mut m = machine(4);
        m.cpumap_entries = 3;
        let p = steering_problems(&plan, &m);
        assert!(
            p.iter()
                .any(|l| l.contains("CPU 3, which has no cpumap entry")),
            "{p:#?}"
        );
    }

    #[test]
    fn a_classid_of_another_queue_is_refused_and_long_lists_are_cut() {
        let plan = bridge(2, vec![mapping(0, 2, 1)]);
        let p = steering_problems(&plan, &machine(2));
        assert_eq!(p.len(), 1);
        assert!(
            p[0].contains(
                "download is steered to CPU 0, served by the HTB 1:, but its class is 2:5"
            ),
            "{}",
            p[0]
        );
        let plan = bridge(2, vec![mapping(7, 1, 1); 10]);
        let p = steering_problems(&plan, &machine(2));
        assert_eq!(p.len(), LISTED + 1);
        assert!(p[LISTED].contains("15 more"), "{}", p[LISTED]);
    }

    #[test]
    fn on_a_stick_upload_uses_the_upper_half() {
        // One interface, download HTBs 1-2 on CPUs 0-1, upload HTBs 3-4 on CPUs 2-3.
        let plan = QueuePlan {
            queues: 2,
            interfaces: vec![InterfacePlan {
                name: "stick".into(),
                htbs: vec![
                    htb(1, Direction::Download, 0),
                    htb(2, Direction::Download, 1),
                    htb(3, Direction::Upload, 2),
                    htb(4, Direction::Upload, 3),
                ],
            }],
            mappings: vec![mapping(1, 2, 4)],
        };
        let mut m = machine(4);
        m.on_a_stick = true;
        assert!(steering_problems(&plan, &m).is_empty());
        // Read as a bridge, upload would go to CPU 1, whose upload queue does not exist.
        m.on_a_stick = false;
        assert_eq!(steering_problems(&plan, &m).len(), 1);
        // Three CPUs: the upper half's second CPU is missing.
        let mut m = machine(3);
        m.on_a_stick = true;
        let p = steering_problems(&plan, &m);
        assert!(
            p.iter().any(|l| l.contains("CPU 3, which is not online")),
            "{p:#?}"
        );
    }

    #[test]
    fn cpu_lists_parse_and_print() {
        assert_eq!(parse_cpu_list("0-3,6\n"), Some(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6, 8, 9]), "0-3,6,8-9");
    }
}
