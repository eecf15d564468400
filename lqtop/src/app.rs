//! lqtop's state, independent of the terminal: what was fetched, how the tables are sorted and
//! filtered, which row is selected, whether privacy mode masks names, and the detail view.

use lqos_bus::{IssueEntry, QueueLoad, Rate, SchedulerReport, StatusReport, ThroughputReport};
use std::collections::hash_map::RandomState;
use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;

/// Seconds of a circuit's rate kept for the detail view's chart.
pub const DETAIL_HISTORY: usize = 120;

/// What one poll of the bus brought (once a second).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub throughput: ThroughputReport,
    /// `None`: this lqosd does not answer `QueueLoad` (older than lqtop).
    pub queues: Option<Vec<QueueLoad>>,
    pub status: Option<StatusReport>,
    /// The scheduler's last report and its age in seconds; `None`: it never reported.
    pub scheduler: Option<(SchedulerReport, u64)>,
    pub issues: Vec<IssueEntry>,
    /// The rate of the circuit in the detail view, when one is open and still live.
    pub detail: Option<Rate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Down,
    Up,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Circuits,
    Hosts,
}

/// A key, as lqtop understands it (the binary maps the terminal's events to these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Enter,
    Esc,
    Backspace,
    Up,
    Down,
    Tab,
    /// Ctrl-C: quit from anywhere.
    Interrupt,
}

/// One row of the circuits or hosts table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The circuit id or address (never shown in privacy mode).
    pub key: String,
    /// What is shown: `key`, or its pseudonym in privacy mode.
    pub label: String,
    /// Hosts: their circuit, if the live plan has one (`circuit_label` is what is shown).
    pub circuit: Option<String>,
    pub circuit_label: Option<String>,
    pub down_bps: u64,
    pub up_bps: u64,
}

#[derive(Debug)]
pub struct App {
    pub snapshot: Option<Snapshot>,
    /// Why the last poll failed (lqosd not answering); the last snapshot stays on screen.
    pub error: Option<String>,
    pub sort: Sort,
    /// The table the selection moves in.
    pub table: Table,
    pub filter: String,
    /// `/` was pressed: keys go to the filter until Enter or Esc.
    pub editing_filter: bool,
    pub privacy: bool,
    /// The circuit id of the open detail view.
    pub detail: Option<String>,
    /// The detail circuit's (down, up) rates, oldest first.
    pub history: VecDeque<(u64, u64)>,
    pub quit: bool,
    /// The selected row's key, per table (selection follows the row when the order changes).
    selected: [Option<String>; 2],
    /// Keys the pseudonyms: stable while lqtop runs, not computable from an id without it.
    mask: RandomState,
}

impl App {
    pub fn new(privacy: bool) -> Self {
        Self {
            snapshot: None,
            error: None,
            sort: Sort::Down,
            table: Table::Circuits,
            filter: String::new(),
            editing_filter: false,
            privacy,
            detail: None,
            history: VecDeque::new(),
            quit: false,
            selected: [None, None],
            mask: RandomState::new(),
        }
    }

    /// A new poll arrived.
    pub fn update(&mut self, snapshot: Snapshot) {
        if let (Some(id), Some(rate)) = (&self.detail, &snapshot.detail) {
            if rate.circuit_id.as_deref() == Some(id.as_str()) {
                if self.history.len() >= DETAIL_HISTORY {
                    self.history.pop_front();
                }
                self.history.push_back((rate.down_bps, rate.up_bps));
            }
        }
        self.snapshot = Some(snapshot);
        self.error = None;
    }

    /// A poll failed; what was shown stays, marked stale.
    pub fn failed(&mut self, error: String) {
        self.error = Some(error);
    }

    /// Handles a key; returns whether anything may have changed (a redraw is due).
    pub fn key(&mut self, key: Key) -> bool {
        if key == Key::Interrupt {
            self.quit = true;
            return true;
        }
        if self.editing_filter {
            match key {
                Key::Char(c) => self.filter.push(c),
                Key::Backspace => {
                    self.filter.pop();
                }
                Key::Enter => self.editing_filter = false,
                Key::Esc => {
                    self.filter.clear();
                    self.editing_filter = false;
                }
                _ => return false,
            }
            return true;
        }
        if self.detail.is_some() {
            match key {
                Key::Esc | Key::Backspace | Key::Enter => self.close_detail(),
                Key::Char('q') => self.quit = true,
                Key::Char('p') => self.privacy = !self.privacy,
                _ => return false,
            }
            return true;
        }
        match key {
            Key::Char('q') => self.quit = true,
            Key::Char('d') => self.sort = Sort::Down,
            Key::Char('u') => self.sort = Sort::Up,
            Key::Char('p') => self.privacy = !self.privacy,
            Key::Char('/') => self.editing_filter = true,
            Key::Esc => self.filter.clear(),
            Key::Tab => {
                self.table = match self.table {
                    Table::Circuits => Table::Hosts,
                    Table::Hosts => Table::Circuits,
                }
            }
            Key::Up | Key::Char('k') => self.move_selection(-1),
            Key::Down | Key::Char('j') => self.move_selection(1),
            Key::Enter => self.open_detail(),
            _ => return false,
        }
        true
    }

    /// The circuit whose rate the next poll should fetch.
    pub fn detail_circuit(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The table's rows: the fetched busiest each way, merged, filtered, sorted.
    pub fn rows(&self, table: Table) -> Vec<Row> {
        let Some(s) = &self.snapshot else {
            return Vec::new();
        };
        let t = &s.throughput;
        let (a, b) = match table {
            Table::Circuits => (&t.top_circuits_down, &t.top_circuits_up),
            Table::Hosts => (&t.top_hosts_down, &t.top_hosts_up),
        };
        let needle = self.filter.to_lowercase();
        let mut seen = HashSet::new();
        let mut rows: Vec<Row> = a
            .iter()
            .chain(b)
            .filter(|r| seen.insert(r.name.as_str()))
            .map(|r| self.row(table, r))
            .filter(|r| {
                needle.is_empty()
                    || r.label.to_lowercase().contains(&needle)
                    || r.circuit_label
                        .as_ref()
                        .is_some_and(|c| c.to_lowercase().contains(&needle))
            })
            .collect();
        let by = |r: &Row| match self.sort {
            Sort::Down => (r.down_bps, r.up_bps),
            Sort::Up => (r.up_bps, r.down_bps),
        };
        rows.sort_by(|x, y| by(y).cmp(&by(x)).then_with(|| x.label.cmp(&y.label)));
        rows
    }

    fn row(&self, table: Table, r: &Rate) -> Row {
        let circuit = match table {
            Table::Circuits => None,
            Table::Hosts => r.circuit_id.clone(),
        };
        Row {
            label: match table {
                Table::Circuits => self.circuit_label(&r.name),
                Table::Hosts => self.host_label(&r.name),
            },
            circuit_label: circuit.as_deref().map(|c| self.circuit_label(c)),
            key: r.name.clone(),
            circuit,
            down_bps: r.down_bps,
            up_bps: r.up_bps,
        }
    }

    /// A circuit id as shown: itself, or `circuit-` and a pseudonym in privacy mode.
    pub fn circuit_label(&self, id: &str) -> String {
        if self.privacy {
            format!("circuit-{}", self.pseudonym(id))
        } else {
            id.to_owned()
        }
    }

    /// An address as shown: itself, or `host-` and a pseudonym in privacy mode.
    pub fn host_label(&self, addr: &str) -> String {
        if self.privacy {
            format!("host-{}", self.pseudonym(addr))
        } else {
            addr.to_owned()
        }
    }

    fn pseudonym(&self, s: &str) -> String {
        format!("{:06x}", self.mask.hash_one(s) & 0xff_ffff)
    }

    /// Index of the selected row among `rows` (the first row when none or gone).
    pub fn selected_index(&self, table: Table, rows: &[Row]) -> usize {
        self.selected[table as usize]
            .as_ref()
            .and_then(|k| rows.iter().position(|r| &r.key == k))
            .unwrap_or(0)
    }

    fn move_selection(&mut self, by: isize) {
        let rows = self.rows(self.table);
        if rows.is_empty() {
            return;
        }
        let at = self.selected_index(self.table, &rows) as isize;
        let to = (at + by).clamp(0, rows.len() as isize - 1) as usize;
        self.selected[self.table as usize] = Some(rows[to].key.clone());
    }

    fn open_detail(&mut self) {
        let rows = self.rows(self.table);
        let Some(row) = rows.get(self.selected_index(self.table, &rows)) else {
            return;
        };
        let circuit = match self.table {
            Table::Circuits => Some(row.key.clone()),
            Table::Hosts => row.circuit.clone(),
        };
        if circuit.is_some() {
            self.detail = circuit;
            self.history.clear();
        }
    }

    fn close_detail(&mut self) {
        self.detail = None;
        self.history.clear();
    }

    /// Hosts of the detail circuit among the fetched busiest hosts, busiest first.
    pub fn detail_hosts(&self) -> Vec<Row> {
        let Some(id) = &self.detail else {
            return Vec::new();
        };
        self.rows(Table::Hosts)
            .into_iter()
            .filter(|r| r.circuit.as_ref() == Some(id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(name: &str, circuit: Option<&str>, down: u64, up: u64) -> Rate {
        Rate {
            name: name.into(),
            circuit_id: circuit.map(Into::into),
            down_bps: down,
            up_bps: up,
        }
    }

    /// Circuit A is busier down, B busier up; each list as lqosd sends it (top each way).
    fn snapshot() -> Snapshot {
        let a = rate("A", Some("A"), 9_000, 100);
        let b = rate("B", Some("B"), 1_000, 7_000);
        let c = rate("C", Some("C"), 500, 500);
        let h1 = rate("100.64.0.1", Some("A"), 9_000, 100);
        let h2 = rate("100.64.0.9", Some("B"), 1_000, 7_000);
        let h3 = rate("198.51.100.1", None, 10, 10);
        Snapshot {
            throughput: ThroughputReport {
                top_circuits_down: vec![a.clone(), b.clone(), c.clone()],
                top_circuits_up: vec![b, c, a],
                top_hosts_down: vec![h1.clone(), h2.clone(), h3.clone()],
                top_hosts_up: vec![h2, h1, h3],
                ..ThroughputReport::default()
            },
            ..Snapshot::default()
        }
    }

    fn app() -> App {
        let mut app = App::new(false);
        app.update(snapshot());
        app
    }

    fn keys(rows: &[Row]) -> Vec<&str> {
        rows.iter().map(|r| r.key.as_str()).collect()
    }

    #[test]
    fn d_and_u_sort_by_download_and_upload_without_duplicates() {
        let mut app = app();
        assert_eq!(keys(&app.rows(Table::Circuits)), ["A", "B", "C"]);
        assert!(app.key(Key::Char('u')));
        assert_eq!(keys(&app.rows(Table::Circuits)), ["B", "C", "A"]);
        assert_eq!(
            keys(&app.rows(Table::Hosts)),
            ["100.64.0.9", "100.64.0.1", "198.51.100.1"]
        );
        app.key(Key::Char('d'));
        assert_eq!(keys(&app.rows(Table::Circuits)), ["A", "B", "C"]);
    }

    #[test]
    fn the_filter_matches_names_and_hosts_circuits_and_esc_clears_it() {
        let mut app = app();
        for k in [Key::Char('/'), Key::Char('b'), Key::Enter] {
            app.key(k);
        }
        assert!(!app.editing_filter);
        assert_eq!(keys(&app.rows(Table::Circuits)), ["B"]);
        assert_eq!(keys(&app.rows(Table::Hosts)), ["100.64.0.9"]);
        // While editing, q is text, not quit.
        app.key(Key::Char('/'));
        app.key(Key::Char('q'));
        assert!(!app.quit);
        assert_eq!(app.filter, "bq");
        app.key(Key::Backspace);
        app.key(Key::Esc);
        assert_eq!(app.filter, "");
        assert_eq!(app.rows(Table::Circuits).len(), 3);
    }

    #[test]
    fn the_selection_follows_its_row_and_enter_opens_its_circuit() {
        let mut app = app();
        app.key(Key::Down);
        let rows = app.rows(Table::Circuits);
        assert_eq!(rows[app.selected_index(Table::Circuits, &rows)].key, "B");
        // Re-sorted: B is first now and still selected.
        app.key(Key::Char('u'));
        let rows = app.rows(Table::Circuits);
        assert_eq!(app.selected_index(Table::Circuits, &rows), 0);
        app.key(Key::Up);
        app.key(Key::Enter);
        assert_eq!(app.detail_circuit(), Some("B"));
        assert_eq!(keys(&app.detail_hosts()), ["100.64.0.9"]);
        // The detail view records the circuit's rate per poll.
        let mut s = snapshot();
        s.detail = Some(rate("B", Some("B"), 5, 6));
        app.update(s.clone());
        app.update(s);
        assert_eq!(app.history, [(5, 6), (5, 6)]);
        // Sort keys do nothing there; Esc goes back.
        assert!(!app.key(Key::Char('d')));
        app.key(Key::Esc);
        assert_eq!(app.detail_circuit(), None);
        assert!(app.history.is_empty());
    }

    #[test]
    fn enter_on_a_host_opens_its_circuit_and_not_for_unshaped_hosts() {
        let mut app = app();
        app.key(Key::Tab);
        app.key(Key::Down);
        app.key(Key::Down);
        app.key(Key::Enter);
        assert_eq!(app.detail_circuit(), None, "198.51.100.1 has no circuit");
        app.key(Key::Up);
        app.key(Key::Enter);
        assert_eq!(app.detail_circuit(), Some("B"));
    }

    #[test]
    fn privacy_mode_masks_addresses_and_circuits_with_stable_pseudonyms() {
        let mut app = app();
        app.key(Key::Char('p'));
        let rows = app.rows(Table::Hosts);
        for r in &rows {
            assert!(r.label.starts_with("host-"), "{r:?}");
            assert!(!r.label.contains("100.64"), "{r:?}");
        }
        assert!(rows[0]
            .circuit_label
            .as_deref()
            .is_some_and(|c| c.starts_with("circuit-")));
        let circuits = app.rows(Table::Circuits);
        assert!(circuits.iter().all(|r| r.label != r.key));
        let labels: HashSet<_> = circuits.iter().map(|r| r.label.clone()).collect();
        assert_eq!(labels.len(), 3, "distinct circuits stay distinct");
        assert_eq!(app.rows(Table::Circuits), circuits, "stable across calls");
        // The filter searches what is shown, so it cannot probe for a hidden id.
        app.key(Key::Char('/'));
        app.key(Key::Char('A'));
        assert!(app
            .rows(Table::Circuits)
            .iter()
            .all(|r| r.label.contains('a')));
        app.filter = circuits[1].label.clone();
        assert_eq!(app.rows(Table::Circuits), [circuits[1].clone()]);
        app.key(Key::Esc);
        app.key(Key::Char('p'));
        assert_eq!(app.rows(Table::Circuits)[0].label, "A");
    }

    #[test]
    fn q_and_ctrl_c_quit_and_a_failed_poll_keeps_the_last_snapshot() {
        let mut app = app();
        app.failed("lqosd does not answer".into());
        assert!(app.snapshot.is_some());
        assert!(app.error.is_some());
        app.update(snapshot());
        assert!(app.error.is_none());
        app.key(Key::Char('q'));
        assert!(app.quit);
        let mut app = App::new(false);
        app.key(Key::Char('/'));
        app.key(Key::Interrupt);
        assert!(app.quit);
    }
}
