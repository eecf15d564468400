//! Draws an [`App`]: a summary (totals, plan, scheduler, CPU queues), urgent issues, the
//! busiest circuits and hosts side by side (or one circuit's detail), and a line of keys.

use crate::app::{App, Row, Snapshot, Sort, Table};
use crate::format::{age, rate};
use lqos_bus::IssueSeverity;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Paragraph, Row as TableRow, Sparkline, Table as TableWidget, TableState,
};
use ratatui::Frame;
use std::time::{SystemTime, UNIX_EPOCH};

/// Issues shown at most (the newest unacknowledged first).
const ISSUE_LINES: usize = 3;
/// Shown where per-circuit RTT and retransmits will go once lqosd tracks flows.
const NO_FLOWS: &str = "-";

pub fn draw(f: &mut Frame, app: &App) {
    let issues = app.snapshot.as_ref().map_or(0, |s| unacked(s).count());
    let [header, summary, issues_area, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Length(issues.min(ISSUE_LINES) as u16 + 2),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(header_line(app), header);
    let Some(s) = &app.snapshot else {
        f.render_widget(
            Paragraph::new("waiting for lqosd...").block(Block::bordered().title(" lqosd ")),
            summary,
        );
        f.render_widget(footer_line(app), footer);
        return;
    };
    f.render_widget(summary_block(s), summary);
    f.render_widget(issues_block(app, s), issues_area);
    match &app.detail {
        Some(id) => draw_detail(f, app, s, id, body),
        None => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(body);
            draw_table(f, app, Table::Circuits, left);
            draw_table(f, app, Table::Hosts, right);
        }
    }
    f.render_widget(footer_line(app), footer);
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header_line(app: &App) -> Line<'static> {
    let mut spans = vec![Span::from(" lqtop ").bold().reversed()];
    if app.privacy {
        spans.push(Span::from(" PRIVACY ").bold());
    }
    match &app.error {
        Some(e) => spans.push(Span::from(format!(" stale: {e}")).bold()),
        None if app.snapshot.is_none() => spans.push(Span::from(" connecting")),
        None => {}
    }
    Line::from(spans)
}

fn summary_block(s: &Snapshot) -> Paragraph<'static> {
    let t = &s.throughput;
    let sampled = if t.sampled_unix == 0 {
        "no sample yet".to_owned()
    } else {
        format!(
            "sampled {} ago",
            age(now_unix().saturating_sub(t.sampled_unix))
        )
    };
    let totals = Line::from(vec![
        Span::from("Down ").bold(),
        Span::from(rate(t.down_bps)),
        Span::from("  Up ").bold(),
        Span::from(rate(t.up_bps)),
        Span::from(format!(
            "   unshaped ↓ {} ↑ {}   active hosts {}   {sampled}",
            rate(t.unknown_down_bps),
            rate(t.unknown_up_bps),
            t.active_hosts
        )),
    ]);
    let plan = match &s.status {
        Some(st) => match st.applied_generation {
            Some(g) => format!(
                "generation {g}, {} circuits, {} prefixes, lqosd up {}",
                st.circuits,
                st.mapped_ips,
                age(st.uptime_secs)
            ),
            None => format!("no plan applied yet, lqosd up {}", age(st.uptime_secs)),
        },
        None => "unknown".to_owned(),
    };
    let scheduler = match &s.scheduler {
        None => "never reported".to_owned(),
        Some((r, ago)) => {
            let mut line = r.phase.clone();
            if !r.step.is_empty() {
                line.push_str(&format!(" {} {}%", r.step, r.percent));
            }
            if let Some(ok) = r.last_success_unix {
                line.push_str(&format!(
                    ", last success {} ago",
                    age(now_unix().saturating_sub(ok))
                ));
            }
            if r.consecutive_failures > 0 {
                line.push_str(&format!(", {} failures", r.consecutive_failures));
            }
            if *ago > 60 {
                line.push_str(&format!(", STALE: last report {} ago", age(*ago)));
            }
            line
        }
    };
    let queues = match &s.queues {
        None => "not reported by this lqosd".to_owned(),
        Some(q) if q.is_empty() => "none mapped".to_owned(),
        Some(q) => q
            .iter()
            .map(|q| format!("cpu{} ↓{} ↑{}", q.cpu, rate(q.down_bps), rate(q.up_bps)))
            .collect::<Vec<_>>()
            .join("  "),
    };
    Paragraph::new(vec![
        totals,
        Line::from(vec![Span::from("Plan ").bold(), Span::from(plan)]),
        Line::from(vec![Span::from("Scheduler ").bold(), Span::from(scheduler)]),
        Line::from(vec![Span::from("CPU queues ").bold(), Span::from(queues)]),
    ])
    .block(Block::bordered().title(" lqosd "))
}

fn unacked(s: &Snapshot) -> impl Iterator<Item = &lqos_bus::IssueEntry> {
    s.issues.iter().filter(|i| !i.acknowledged)
}

fn issues_block(app: &App, s: &Snapshot) -> Paragraph<'static> {
    let count = unacked(s).count();
    let lines: Vec<Line> = unacked(s)
        .take(ISSUE_LINES)
        .map(|i| {
            let severity = match i.issue.severity {
                IssueSeverity::Error => Span::from("ERROR ").bold(),
                IssueSeverity::Warning => Span::from("WARN  "),
            };
            let text = if app.privacy {
                format!("{} {} (text hidden: privacy)", i.issue.source, i.issue.code)
            } else {
                format!("{} {}: {}", i.issue.source, i.issue.code, i.issue.message)
            };
            let repeat = if i.count > 1 {
                format!(" (x{})", i.count)
            } else {
                String::new()
            };
            Line::from(vec![severity, Span::from(text + &repeat)])
        })
        .collect();
    let title = match count {
        0 => " urgent issues: none ".to_owned(),
        n => format!(" urgent issues: {n} (lqos issues) "),
    };
    Paragraph::new(lines).block(Block::bordered().title(title))
}

fn sort_mark(app: &App, column: Sort) -> &'static str {
    if app.sort == column {
        " ▼"
    } else {
        ""
    }
}

fn draw_table(f: &mut Frame, app: &App, table: Table, area: Rect) {
    let rows = app.rows(table);
    let down = format!("Down{}", sort_mark(app, Sort::Down));
    let up = format!("Up{}", sort_mark(app, Sort::Up));
    let (title, header, widths): (&str, Vec<String>, Vec<Constraint>) = match table {
        Table::Circuits => (
            " circuits ",
            vec!["Circuit".into(), down, up, "RTT".into(), "Retr".into()],
            vec![
                Constraint::Min(12),
                Constraint::Length(13),
                Constraint::Length(13),
                Constraint::Length(5),
                Constraint::Length(5),
            ],
        ),
        Table::Hosts => (
            " hosts ",
            vec!["Host".into(), "Circuit".into(), down, up],
            vec![
                Constraint::Min(15),
                Constraint::Min(10),
                Constraint::Length(13),
                Constraint::Length(13),
            ],
        ),
    };
    let body = rows.iter().map(|r| table_row(table, r));
    let focused = app.table == table;
    let mut block = Block::bordered().title(title);
    if focused {
        block = block.border_style(Style::new().add_modifier(Modifier::BOLD));
    }
    let widget = TableWidget::new(body, widths)
        .header(TableRow::new(header).bold())
        .block(block)
        .row_highlight_style(if focused {
            Style::new().reversed()
        } else {
            Style::new()
        });
    let mut state = TableState::default();
    if !rows.is_empty() {
        state.select(Some(app.selected_index(table, &rows)));
    }
    f.render_stateful_widget(widget, area, &mut state);
}

fn table_row(table: Table, r: &Row) -> TableRow<'static> {
    let down = Cell::from(Line::from(rate(r.down_bps)).right_aligned());
    let up = Cell::from(Line::from(rate(r.up_bps)).right_aligned());
    match table {
        Table::Circuits => TableRow::new(vec![
            Cell::from(r.label.clone()),
            down,
            up,
            Cell::from(NO_FLOWS),
            Cell::from(NO_FLOWS),
        ]),
        Table::Hosts => TableRow::new(vec![
            Cell::from(r.label.clone()),
            Cell::from(
                r.circuit_label
                    .clone()
                    .unwrap_or_else(|| "(unshaped)".into()),
            ),
            down,
            up,
        ]),
    }
}

fn draw_detail(f: &mut Frame, app: &App, s: &Snapshot, id: &str, area: Rect) {
    let [info, down_chart, up_chart, hosts] = Layout::vertical([
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Min(3),
    ])
    .areas(area);
    let now = match &s.detail {
        Some(r) => format!("Down {}   Up {}", rate(r.down_bps), rate(r.up_bps)),
        None => "not in the live plan".to_owned(),
    };
    f.render_widget(
        Paragraph::new(vec![
            Line::from(now),
            Line::from(
                "RTT and retransmits: not measured yet (they need lqosd's per-flow tracking)",
            ),
            Line::from("Esc: back"),
        ])
        .block(Block::bordered().title(format!(" circuit {} ", app.circuit_label(id)))),
        info,
    );
    for (chart, pick, what) in [(down_chart, 0usize, "download"), (up_chart, 1, "upload")] {
        let data: Vec<u64> = app
            .history
            .iter()
            .map(|&(d, u)| if pick == 0 { d } else { u })
            .collect();
        let peak = data.iter().copied().max().unwrap_or(0);
        // The newest seconds, as many as fit.
        let width = chart.width.saturating_sub(2) as usize;
        let shown = &data[data.len().saturating_sub(width)..];
        f.render_widget(
            Sparkline::default()
                .data(shown)
                .block(Block::bordered().title(format!(" {what}, peak {} ", rate(peak)))),
            chart,
        );
    }
    let rows = app.detail_hosts();
    let body = rows.iter().map(|r| table_row(Table::Hosts, r));
    f.render_widget(
        TableWidget::new(
            body,
            [
                Constraint::Min(15),
                Constraint::Min(10),
                Constraint::Length(13),
                Constraint::Length(13),
            ],
        )
        .header(TableRow::new(["Host", "Circuit", "Down", "Up"]).bold())
        .block(Block::bordered().title(" its busiest hosts ")),
        hosts,
    );
}

fn footer_line(app: &App) -> Line<'static> {
    if app.editing_filter {
        return Line::from(format!(
            " filter: {}_   (Enter: keep, Esc: clear)",
            app.filter
        ));
    }
    let mut text = if app.detail.is_some() {
        " Esc back  p privacy  q quit".to_owned()
    } else {
        " d sort down  u sort up  / filter  Tab hosts/circuits  ↑↓ select  Enter detail  p privacy  q quit"
            .to_owned()
    };
    if !app.filter.is_empty() {
        text.push_str(&format!("   filter: {}", app.filter));
    }
    Line::from(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Key;
    use lqos_bus::{Rate, ThroughputReport};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(140, 40)).expect("terminal");
        t.draw(|f| draw(f, app)).expect("draw");
        let buf = t.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    #[test]
    fn the_screen_shows_totals_queues_circuits_and_the_detail_view() {
        let mut app = App::new(false);
        assert!(screen(&app).contains("waiting for lqosd"));
        let a = Rate {
            name: "circuit-alpha".into(),
            circuit_id: Some("circuit-alpha".into()),
            down_bps: 12_300_000,
            up_bps: 1_000,
        };
        app.update(Snapshot {
            throughput: ThroughputReport {
                down_bps: 12_300_000,
                top_circuits_down: vec![a.clone()],
                ..ThroughputReport::default()
            },
            queues: Some(vec![lqos_bus::QueueLoad {
                cpu: 1,
                down_bps: 12_300_000,
                up_bps: 1_000,
            }]),
            ..Snapshot::default()
        });
        let s = screen(&app);
        assert!(s.contains("Down 12.3 Mbit/s"), "{s}");
        assert!(s.contains("cpu1 ↓12.3 Mbit/s ↑1.0 kbit/s"), "{s}");
        assert!(s.contains("circuit-alpha"), "{s}");
        assert!(s.contains("Down ▼"), "{s}");
        app.key(Key::Enter);
        let s = screen(&app);
        assert!(s.contains("RTT and retransmits: not measured yet"), "{s}");
        app.key(Key::Esc);
        app.key(Key::Char('p'));
        let s = screen(&app);
        assert!(!s.contains("circuit-alpha"), "{s}");
        assert!(s.contains("PRIVACY"), "{s}");
    }
}
