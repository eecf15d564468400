//! What the scheduler keeps in `state_directory`: the previous plan's class ids (stable ids
//! across rebuilds) and the last plan lqosd applied from it (the base of the next delta): the
//! whole plan as last sent whole, then a journal of the deltas applied since, so that a
//! one-circuit refresh writes a hundred bytes instead of the whole plan (tens of MB at 100k
//! circuits).

use lqos_config::{Diagnostic, Diagnostics, Location, Severity};
use lqos_plan::{ClassIdState, PlanDelta, PlanHashes, QueuePlan, CLASS_ID_STATE_FILE};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name of the last plan lqosd applied, in `state_directory`.
pub const SUBMITTED_PLAN_FILE: &str = "submitted-plan.bin";

/// The first bytes of [`SUBMITTED_PLAN_FILE`]: its format (postcard of [`Submitted`]) and
/// version; any other file is ignored (the next refresh sends the full plan).
const SUBMITTED_MAGIC: &[u8; 8] = b"LQOSSP1\n";

/// File name of the deltas lqosd applied since [`SUBMITTED_PLAN_FILE`] was written, in
/// `state_directory`: postcard records of (generation, delta), appended.
pub const SUBMITTED_DELTAS_FILE: &str = "submitted-deltas.bin";

/// Deltas kept in [`SUBMITTED_DELTAS_FILE`] before a refresh writes the whole plan again:
/// each costs a patch when the plan is loaded (beside the inputs, on another thread).
const MAX_KEPT_DELTAS: usize = 32;

/// The last plan lqosd answered `Applied` (or `Unchanged`) to, as lqosd holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub generation: u64,
    /// [`lqos_plan::plan_hash`] of `plan`.
    pub hash: u64,
    pub plan: QueuePlan,
    /// Deltas of the journal that made it from the plan written whole.
    #[serde(skip)]
    pub deltas: usize,
}

/// One delta of the journal: lqosd applied it as `generation`.
#[derive(Deserialize)]
struct Record {
    generation: u64,
    delta: PlanDelta,
}

/// [`Record`] by reference.
#[derive(Serialize)]
struct RecordRef<'a> {
    generation: u64,
    delta: &'a PlanDelta,
}

/// [`Submitted`] by reference: the same bytes without cloning the plan.
#[derive(Serialize)]
struct SubmittedRef<'a> {
    generation: u64,
    hash: u64,
    plan: &'a QueuePlan,
}

/// The last applied plan: the one written whole, patched with the journal's deltas up to the
/// first that does not apply to it (a torn or stale record: lqosd then holds another plan,
/// and the refresh finds so and sends the full plan). `None` when there is none or it cannot
/// be read (the refresh then sends the full plan, which is always correct).
pub fn load_submitted(state_dir: &Path) -> Option<Submitted> {
    let bytes = std::fs::read(state_dir.join(SUBMITTED_PLAN_FILE)).ok()?;
    let body = bytes.strip_prefix(SUBMITTED_MAGIC)?;
    let mut kept: Submitted = postcard::from_bytes(body).ok()?;
    let journal = std::fs::read(state_dir.join(SUBMITTED_DELTAS_FILE)).unwrap_or_default();
    let mut rest = journal.as_slice();
    let mut hashes = None;
    while let Ok((record, after)) = postcard::take_from_bytes::<Record>(rest) {
        let d = &record.delta;
        if d.check_base(kept.generation, kept.hash).is_err() {
            break;
        }
        let base = hashes.get_or_insert_with(|| PlanHashes::of(&kept.plan));
        let Some(patched) = patch_kept(d, &mut kept.plan, base) else {
            break;
        };
        (kept.generation, kept.hash, kept.deltas) =
            (record.generation, patched.plan(), kept.deltas + 1);
        *base = patched;
        rest = after;
    }
    if !rest.is_empty() {
        // Records that do not apply stay in the journal: the next plan kept is written whole.
        kept.deltas = MAX_KEPT_DELTAS;
    }
    Some(kept)
}

/// `plan` patched with `delta` (in place when it can be), with its hashes; `None` and `plan`
/// as it was when the result is not the one the delta promised.
fn patch_kept(delta: &PlanDelta, plan: &mut QueuePlan, base: &PlanHashes) -> Option<PlanHashes> {
    match delta.patch_in_place(plan) {
        Some(replaced) => match delta.verify(plan, base) {
            Ok(hashes) => Some(hashes),
            Err(_) => {
                replaced.restore(plan);
                None
            }
        },
        None => {
            let patched = delta.patch_unverified(plan).ok()?;
            let hashes = delta.verify(&patched, base).ok()?;
            *plan = patched;
            Some(hashes)
        }
    }
}

/// Keeps the plan `delta` made of `kept` (applied by lqosd as `generation`) by adding the
/// delta to the journal; `Ok(false)` when it cannot be (`kept` is not its base, or the
/// journal is full): save the whole plan with [`save_submitted`] instead. Not fsynced, as
/// that: a torn record only costs one full plan.
pub fn save_submitted_delta(
    state_dir: &Path,
    kept: &Submitted,
    generation: u64,
    delta: &PlanDelta,
) -> std::io::Result<bool> {
    if (delta.base_generation, delta.base_hash) != (kept.generation, kept.hash)
        || kept.deltas >= MAX_KEPT_DELTAS
    {
        return Ok(false);
    }
    let record =
        postcard::to_stdvec(&RecordRef { generation, delta }).map_err(std::io::Error::other)?;
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join(SUBMITTED_DELTAS_FILE))?;
    std::io::Write::write_all(&mut journal, &record)?;
    Ok(true)
}

/// Keeps `plan` as the base of the next delta: written to a temp file and renamed, so a
/// reader sees the old file or the new one. Not fsynced: after a crash the file may be
/// missing or empty, and a missing base only costs one full plan.
pub fn save_submitted(
    state_dir: &Path,
    generation: u64,
    hash: u64,
    plan: &QueuePlan,
) -> std::io::Result<()> {
    let bytes = postcard::to_extend(
        &SubmittedRef {
            generation,
            hash,
            plan,
        },
        SUBMITTED_MAGIC.to_vec(),
    )
    .map_err(std::io::Error::other)?;
    let tmp = state_dir.join(format!(".{SUBMITTED_PLAN_FILE}.tmp"));
    std::fs::create_dir_all(state_dir)?;
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, state_dir.join(SUBMITTED_PLAN_FILE))?;
    // The journal's deltas were against the plan replaced (left behind by a crash here, they
    // fail their base check at load).
    match std::fs::remove_file(state_dir.join(SUBMITTED_DELTAS_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Reads the saved class ids. Missing is normal (first run); unreadable or corrupt is a warning
/// and the plan starts afresh (ids may change once) rather than failing.
pub fn load(state_dir: &Path, notes: &mut Diagnostics) -> Option<ClassIdState> {
    let path = state_dir.join(CLASS_ID_STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            notes.push(Diagnostic::new(
                Severity::Warning,
                &path.display().to_string(),
                Location::File,
                format!("cannot read previous class ids ({e}); assigning afresh"),
            ));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            notes.push(Diagnostic::new(
                Severity::Warning,
                &path.display().to_string(),
                Location::Line {
                    line: e.line() as u64,
                    column: Some(e.column() as u64),
                },
                format!("corrupt previous class ids ({e}); assigning afresh"),
            ));
            None
        }
    }
}

/// Writes the class ids atomically (temp file + rename) so a crash never leaves half a file.
pub fn save(state_dir: &Path, state: &ClassIdState) -> std::io::Result<()> {
    std::fs::create_dir_all(state_dir)?;
    let path = state_dir.join(CLASS_ID_STATE_FILE);
    let tmp = state_dir.join(format!(".{CLASS_ID_STATE_FILE}.tmp"));
    let json = serde_json::to_vec(state).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_missing_and_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut notes = Diagnostics::default();
        assert_eq!(load(dir.path(), &mut notes), None);
        assert!(notes.is_empty(), "a first run is not a problem");
        let mut s = ClassIdState {
            queues: 2,
            ..Default::default()
        };
        s.circuits.insert("C1".into(), (1, 7));
        save(dir.path(), &s).unwrap();
        assert_eq!(load(dir.path(), &mut notes), Some(s));
        std::fs::write(dir.path().join(CLASS_ID_STATE_FILE), "{not json").unwrap();
        assert_eq!(load(dir.path(), &mut notes), None);
        assert_eq!(notes.count(Severity::Warning), 1, "{notes}");
    }

    #[test]
    fn the_submitted_plan_round_trips_and_anything_else_is_no_base() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_submitted(dir.path()), None);
        let plan = QueuePlan {
            queues: 3,
            interfaces: Vec::new(),
            mappings: Vec::new(),
        };
        save_submitted(dir.path(), 42, lqos_plan::plan_hash(&plan), &plan).unwrap();
        let back = load_submitted(dir.path()).expect("saved");
        assert_eq!((back.generation, back.plan), (42, plan.clone()));
        assert_eq!(back.hash, lqos_plan::plan_hash(&plan));
        let path = dir.path().join(SUBMITTED_PLAN_FILE);
        for junk in [&b""[..], b"LQOSSP1\n\xff", b"LQOSSP0\n"] {
            std::fs::write(&path, junk).unwrap();
            assert_eq!(load_submitted(dir.path()), None, "{junk:?}");
        }
    }

    /// A plan of `n` mappings, the `k`th on CPU `cpu`.
    fn mapped(n: u32, k: usize, cpu: u32) -> QueuePlan {
        let mappings = (0..n)
            .map(|i| lqos_plan::IpMapping {
                prefix: std::net::IpAddr::from(std::net::Ipv4Addr::from(0x6440_0000 + i)).into(),
                cpu: if i as usize == k { cpu } else { 0 },
                download: lqos_plan::ClassId::new(1, 2),
                upload: lqos_plan::ClassId::new(2, 2),
                circuit_id: format!("c{i}").into(),
            })
            .collect();
        QueuePlan {
            queues: 2,
            interfaces: Vec::new(),
            mappings,
        }
    }

    fn keep_whole(dir: &Path, generation: u64, plan: &QueuePlan) -> Submitted {
        save_submitted(dir, generation, lqos_plan::plan_hash(plan), plan).unwrap();
        load_submitted(dir).expect("kept")
    }

    #[test]
    fn applied_deltas_join_the_journal_and_load_as_the_plan_they_made() {
        let dir = tempfile::tempdir().unwrap();
        let mut kept = keep_whole(dir.path(), 1, &mapped(50, 0, 0));
        for (generation, k) in [(2, 3), (3, 40), (4, 3)] {
            let next = mapped(50, k, generation as u32);
            let delta = PlanDelta::between(kept.generation, &kept.plan, &next);
            assert!(save_submitted_delta(dir.path(), &kept, generation, &delta).unwrap());
            kept = load_submitted(dir.path()).expect("kept");
            assert_eq!(
                (kept.generation, kept.deltas),
                (generation, generation as usize - 1)
            );
            assert_eq!(
                (kept.hash, &kept.plan),
                (lqos_plan::plan_hash(&next), &next)
            );
        }
        // A delta against another plan is not journaled: the whole plan goes.
        let stale = PlanDelta::between(3, &mapped(50, 40, 3), &mapped(50, 1, 9));
        assert!(!save_submitted_delta(dir.path(), &kept, 5, &stale).unwrap());
        // Writing the whole plan starts a new journal.
        let whole = keep_whole(dir.path(), 6, &mapped(10, 0, 0));
        assert_eq!((whole.generation, whole.deltas), (6, 0));
        assert!(!dir.path().join(SUBMITTED_DELTAS_FILE).exists());
    }

    #[test]
    fn a_torn_journal_keeps_the_plan_before_it_and_the_next_plan_goes_whole() {
        let dir = tempfile::tempdir().unwrap();
        let first = keep_whole(dir.path(), 1, &mapped(20, 0, 0));
        let second = mapped(20, 5, 1);
        let delta = PlanDelta::between(1, &first.plan, &second);
        assert!(save_submitted_delta(dir.path(), &first, 2, &delta).unwrap());
        let journal = dir.path().join(SUBMITTED_DELTAS_FILE);
        let good = std::fs::read(&journal).unwrap();
        let kept = load_submitted(dir.path()).expect("kept");
        let third = PlanDelta::between(2, &second, &mapped(20, 6, 1));
        assert!(save_submitted_delta(dir.path(), &kept, 3, &third).unwrap());
        // The second record cut short, as by a crash in the middle of its write.
        let full = std::fs::read(&journal).unwrap();
        std::fs::write(&journal, &full[..full.len() - 3]).unwrap();
        let kept = load_submitted(dir.path()).expect("kept");
        assert_eq!((kept.generation, &kept.plan), (2, &second));
        assert_eq!(std::fs::read(&journal).unwrap()[..good.len()], good[..]);
        // What follows a record that does not apply would never be read: not journaled.
        let fourth = PlanDelta::between(2, &second, &mapped(20, 7, 1));
        assert!(!save_submitted_delta(dir.path(), &kept, 4, &fourth).unwrap());
    }

    #[test]
    fn the_journal_holds_a_bounded_number_of_deltas() {
        let dir = tempfile::tempdir().unwrap();
        let mut kept = keep_whole(dir.path(), 1, &mapped(5, 0, 0));
        for generation in 2..2 + MAX_KEPT_DELTAS as u64 {
            let next = mapped(5, generation as usize % 5, generation as u32);
            let delta = PlanDelta::between(kept.generation, &kept.plan, &next);
            assert!(save_submitted_delta(dir.path(), &kept, generation, &delta).unwrap());
            kept = load_submitted(dir.path()).expect("kept");
        }
        assert_eq!(kept.deltas, MAX_KEPT_DELTAS);
        let delta = PlanDelta::between(kept.generation, &kept.plan, &mapped(5, 0, 0));
        assert!(!save_submitted_delta(dir.path(), &kept, 99, &delta).unwrap());
    }
}
