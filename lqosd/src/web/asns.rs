//! ASN Analysis and the Flow Globe's data: per-ASN and per-country traffic over 15 minutes
//! (`lqos_telemetry::remotes_view`), an ASN's detail, ASN search. Circuit indexes become
//! circuit ids and names here. The report is computed at most once a second ([`Snapshot`]).

use super::auth::Viewer;
use super::catalog::Catalog;
use super::error::{ApiError, QueryArgs};
use super::WebState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lqos_telemetry::remotes_view::{
    AsnDetail, AsnSummary, CircuitShare, CountrySummary, RemoteReport, RemoteTotals,
};
use lqos_telemetry::view::FlowView;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Circuits listed per ASN or country in the lists.
const TOP_CIRCUITS: usize = 5;
/// Flows in an ASN's detail.
const DETAIL_FLOWS: usize = 50;
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
const MAX_SEARCH: usize = 50;

/// The orders of the ASN list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Bytes,
    Flows,
    Rtt,
    Retransmits,
}

/// A circuit as the pages show it.
#[derive(Debug, Clone, Serialize)]
struct Circuit<'a> {
    circuit_id: Option<&'a str>,
    name: Option<&'a str>,
    flows: u64,
    bytes_down: u64,
    bytes_up: u64,
    retransmits: u64,
    rtt_internet_ms: Option<f64>,
}

#[derive(Serialize)]
struct AsnRow<'a> {
    asn: u32,
    name: Option<&'a str>,
    #[serde(flatten)]
    totals: &'a RemoteTotals,
    circuits: u64,
    top_circuits: Vec<Circuit<'a>>,
}

#[derive(Serialize)]
struct CountryRow<'a> {
    country: Option<&'a str>,
    name: Option<&'a str>,
    /// `[lon, lat]`: where the globe draws it.
    centroid: Option<[f64; 2]>,
    #[serde(flatten)]
    totals: &'a RemoteTotals,
    circuits: u64,
    top_circuits: Vec<Circuit<'a>>,
}

/// Circuit index -> (id, name), for the circuits a report names.
#[derive(Default)]
pub struct CircuitNames(HashMap<u32, (Arc<str>, Option<String>)>);

impl CircuitNames {
    fn resolve(s: &WebState, indexes: impl Iterator<Item = u32>) -> Self {
        let catalog: Arc<Catalog> = s.catalog();
        let ix = s
            .inner
            .shared
            .telemetry
            .circuits
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut out = HashMap::new();
        for i in indexes {
            if out.contains_key(&i) {
                continue;
            }
            if let Some(id) = ix.circuit_at(i) {
                let name = catalog
                    .circuit(id)
                    .map(|c| catalog.circuits[c].name.clone());
                out.insert(i, (id.clone(), name));
            }
        }
        CircuitNames(out)
    }

    fn circuit<'a>(&'a self, c: &CircuitShare) -> Circuit<'a> {
        let hit = self.0.get(&c.circuit);
        Circuit {
            circuit_id: hit.map(|(id, _)| &**id),
            name: hit.and_then(|(_, n)| n.as_deref()),
            flows: c.flows,
            bytes_down: c.bytes_down,
            bytes_up: c.bytes_up,
            retransmits: c.retransmits,
            rtt_internet_ms: c.rtt_internet_ms,
        }
    }
}

/// The report of one second, with the circuits it names resolved.
pub struct Snapshot {
    pub report: RemoteReport,
    names: CircuitNames,
    /// The country list, rendered (the globe polls it).
    countries: Bytes,
    /// ASN lists by (sort, limit), rendered on first use (at most [`MAX_LISTS`]).
    lists: std::sync::Mutex<std::collections::HashMap<(Sort, usize), Bytes>>,
}

/// ASN lists kept rendered per snapshot (one second).
const MAX_LISTS: usize = 32;

impl Snapshot {
    fn build(s: &WebState) -> Self {
        // A quick copy under the telemetry's read lock; the aggregation after it (a long
        // read hold would keep the flow reader, and so every reader behind it, waiting).
        let parts = s.inner.shared.telemetry.read().telemetry.remote_parts();
        let report = parts.report(TOP_CIRCUITS);
        let indexes = report
            .asns
            .iter()
            .flat_map(|a| a.top_circuits.iter())
            .chain(report.countries.iter().flat_map(|c| c.top_circuits.iter()))
            .map(|c| c.circuit);
        let names = CircuitNames::resolve(s, indexes);
        let countries = render_countries(s, &report, &names);
        Snapshot {
            report,
            names,
            countries,
            lists: Default::default(),
        }
    }

    fn row<'a>(&'a self, a: &'a AsnSummary) -> AsnRow<'a> {
        AsnRow {
            asn: a.asn,
            name: a.name.as_deref(),
            totals: &a.totals,
            circuits: a.circuits,
            top_circuits: a
                .top_circuits
                .iter()
                .map(|c| self.names.circuit(c))
                .collect(),
        }
    }
}

fn render_countries(s: &WebState, report: &RemoteReport, names: &CircuitNames) -> Bytes {
    #[derive(Serialize)]
    struct Countries<'a> {
        geo_loaded: bool,
        countries: Vec<CountryRow<'a>>,
    }
    let data = &s.inner.geo.data;
    let countries = report
        .countries
        .iter()
        .map(|c: &CountrySummary| {
            let pos = c.country.as_deref().and_then(|cc| data.centroid(cc));
            CountryRow {
                country: c.country.as_deref(),
                name: pos.map(|p| p.name.as_str()),
                centroid: pos.and_then(|p| p.centroid),
                totals: &c.totals,
                circuits: c.circuits,
                top_circuits: c.top_circuits.iter().map(|x| names.circuit(x)).collect(),
            }
        })
        .collect();
    let body = Countries {
        geo_loaded: report.geo_loaded,
        countries,
    };
    Bytes::from(serde_json::to_vec(&body).unwrap_or_default())
}

async fn snapshot(s: &WebState) -> Arc<Snapshot> {
    s.inner.geo.report.get(|| Snapshot::build(s)).await
}

fn json(bytes: impl Into<Bytes>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes.into()).into_response()
}

fn to_json(v: &impl Serialize) -> Result<Bytes, ApiError> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal("writing JSON", e))
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

#[derive(Deserialize)]
pub struct ListArgs {
    sort: Option<Sort>,
    limit: Option<usize>,
}

/// The sort key: larger is first.
fn sort_key(a: &AsnSummary, sort: Sort) -> f64 {
    let t = &a.totals;
    match sort {
        Sort::Bytes => (t.bytes_down + t.bytes_up) as f64,
        Sort::Flows => t.active_flows as f64 + t.recent_flows as f64 / 1e9,
        Sort::Rtt => t.rtt_median_ms.unwrap_or(-1.0),
        Sort::Retransmits => {
            if t.tcp_packets >= lqos_telemetry::RETX_MIN_PACKETS {
                t.retransmit_percent
            } else {
                -1.0
            }
        }
    }
}

/// `GET /api/asns?sort=bytes|flows|rtt|retransmits&limit=N`: the top ASNs of the last 15 min.
/// By RTT, only ASNs with RTT samples; by retransmits, only those with 100 TCP packets or
/// more (a percentage of 3 packets says nothing).
pub async fn list(
    State(s): State<WebState>,
    _v: Viewer,
    QueryArgs(args): QueryArgs<ListArgs>,
) -> Result<Response, ApiError> {
    let sort = args.sort.unwrap_or(Sort::Bytes);
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("limit = {limit}: expected 1 to {MAX_LIMIT}")));
    }
    let snap = snapshot(&s).await;
    let cached = snap
        .lists
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&(sort, limit))
        .cloned();
    if let Some(body) = cached {
        return Ok(json(body));
    }
    let body = render_list(&snap, sort, limit)?;
    let mut lists = snap.lists.lock().unwrap_or_else(|p| p.into_inner());
    if lists.len() < MAX_LISTS {
        lists.insert((sort, limit), body.clone());
    }
    Ok(json(body))
}

/// The ASN list of `snap` in `sort` order, `limit` rows.
fn render_list(snap: &Snapshot, sort: Sort, limit: usize) -> Result<Bytes, ApiError> {
    let r = &snap.report;
    let mut rows: Vec<&AsnSummary> = r
        .asns
        .iter()
        .filter(|a| sort_key(a, sort) >= 0.0 && (sort != Sort::Rtt || a.totals.rtt_samples > 0))
        .collect();
    if sort != Sort::Bytes {
        rows.sort_by(|a, b| {
            sort_key(b, sort)
                .total_cmp(&sort_key(a, sort))
                .then(a.asn.cmp(&b.asn))
        });
    }
    let matching = rows.len();
    rows.truncate(limit);
    #[derive(Serialize)]
    struct List<'a> {
        sort: Sort,
        geo_loaded: bool,
        tracked: usize,
        matching: usize,
        asns_overflowed: u64,
        other: &'a RemoteTotals,
        asns: Vec<AsnRow<'a>>,
    }
    let body = List {
        sort,
        geo_loaded: r.geo_loaded,
        tracked: r.asns.len(),
        matching,
        asns_overflowed: r.asns_overflowed,
        other: &r.other_asns,
        asns: rows.into_iter().map(|a| snap.row(a)).collect(),
    };
    to_json(&body)
}

impl Serialize for Sort {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            Sort::Bytes => "bytes",
            Sort::Flows => "flows",
            Sort::Rtt => "rtt",
            Sort::Retransmits => "retransmits",
        })
    }
}

/// `GET /api/geo/countries`: every country of the last 15 min with its position (the globe
/// and its list).
pub async fn countries(State(s): State<WebState>, _v: Viewer) -> Response {
    json(snapshot(&s).await.countries.clone())
}

/// A flow as the ASN page lists it: the flow and its circuit.
#[derive(Serialize)]
struct FlowRow<'a> {
    #[serde(flatten)]
    flow: &'a FlowView,
    circuit_id: Option<&'a str>,
    circuit_name: Option<&'a str>,
}

fn render_detail(s: &WebState, asn: u32) -> Result<Bytes, ApiError> {
    let d: AsnDetail = s
        .inner
        .shared
        .telemetry
        .read()
        .telemetry
        .asn_detail(asn, DETAIL_FLOWS);
    let indexes = d
        .circuits
        .iter()
        .map(|c| c.circuit)
        .chain(d.flows.iter().map(|f| f.circuit));
    let names = CircuitNames::resolve(s, indexes);
    #[derive(Serialize)]
    struct Detail<'a> {
        asn: u32,
        name: Option<&'a str>,
        tracked: bool,
        #[serde(flatten)]
        totals: &'a RemoteTotals,
        trend: &'a [lqos_telemetry::remotes_view::TrendPoint],
        circuits: Vec<Circuit<'a>>,
        flows: Vec<FlowRow<'a>>,
        countries: Vec<CountryCount<'a>>,
    }
    #[derive(Serialize)]
    struct CountryCount<'a> {
        country: &'a str,
        name: Option<&'a str>,
        flows: u64,
    }
    let data = &s.inner.geo.data;
    let body = Detail {
        asn,
        name: d.summary.name.as_deref(),
        tracked: d.tracked,
        totals: &d.summary.totals,
        trend: &d.trend,
        circuits: d.circuits.iter().map(|c| names.circuit(c)).collect(),
        flows: d
            .flows
            .iter()
            .map(|f| {
                let hit = names.0.get(&f.circuit);
                FlowRow {
                    flow: f,
                    circuit_id: hit.map(|(id, _)| &**id),
                    circuit_name: hit.and_then(|(_, n)| n.as_deref()),
                }
            })
            .collect(),
        countries: d
            .countries
            .iter()
            .map(|(cc, n)| CountryCount {
                country: cc,
                name: data.centroid(cc).map(|c| c.name.as_str()),
                flows: *n,
            })
            .collect(),
    };
    to_json(&body)
}

/// `GET /api/asns/{asn}` (`15169` or `AS15169`): trend, circuits and flows of one ASN.
pub async fn detail(
    State(s): State<WebState>,
    _v: Viewer,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let asn = parse_asn(&raw)
        .ok_or_else(|| bad(format!("{raw:?}: expected an AS number (15169 or AS15169)")))?;
    let body = s
        .inner
        .geo
        .asn_detail
        .get(&asn, || render_detail(&s, asn))?;
    Ok(json(body))
}

/// `15169`, `AS15169`, `as15169`.
fn parse_asn(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .or_else(|| t.strip_prefix("As"))
        .unwrap_or(t);
    digits.parse().ok()
}

#[derive(Deserialize)]
pub struct SearchArgs {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// `GET /api/asn-search?q=TEXT`: ASNs by number or by a part of their name (the whole ASN
/// table, not only those with traffic), each with its last 15 minutes when it had traffic.
pub async fn search(
    State(s): State<WebState>,
    _v: Viewer,
    QueryArgs(args): QueryArgs<SearchArgs>,
) -> Result<Response, ApiError> {
    let q = args.q.trim();
    let limit = args.limit.unwrap_or(20).clamp(1, MAX_SEARCH);
    if q.is_empty() {
        return Err(bad(
            "q is empty: give an AS number or a part of a name".into()
        ));
    }
    if q.len() > 200 {
        return Err(bad("q is longer than 200 bytes".into()));
    }
    let snap = snapshot(&s).await;
    let tracked: HashMap<u32, &AsnSummary> = snap.report.asns.iter().map(|a| (a.asn, a)).collect();
    let geo = s.inner.shared.telemetry.geo();
    let mut found: Vec<(u32, Option<String>)> = geo
        .as_ref()
        .map(|g| {
            g.search_asn(q, limit)
                .into_iter()
                .map(|m| (m.asn, Some(m.name.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    // Without a table (or for an ASN it does not name) a number still finds a tracked ASN.
    if let Some(n) = parse_asn(q) {
        if !found.iter().any(|(a, _)| *a == n) && tracked.contains_key(&n) {
            found.insert(0, (n, None));
        }
    }
    #[derive(Serialize)]
    struct Hit<'a> {
        asn: u32,
        name: Option<String>,
        tracked: bool,
        totals: Option<&'a RemoteTotals>,
    }
    let results: Vec<Hit> = found
        .into_iter()
        .map(|(asn, name)| {
            let t = tracked.get(&asn);
            Hit {
                asn,
                name,
                tracked: t.is_some(),
                totals: t.map(|a| &a.totals),
            }
        })
        .collect();
    #[derive(Serialize)]
    struct Search<'a> {
        query: &'a str,
        geo_loaded: bool,
        results: Vec<Hit<'a>>,
    }
    Ok(json(to_json(&Search {
        query: q,
        geo_loaded: geo.is_some_and(|g| g.asn_table().is_some()),
        results,
    })?))
}

#[cfg(test)]
mod tests {
    use super::parse_asn;

    #[test]
    fn as_numbers_parse_with_or_without_the_prefix() {
        assert_eq!(parse_asn("15169"), Some(15169));
        assert_eq!(parse_asn("AS64500"), Some(64500));
        assert_eq!(parse_asn(" as1 "), Some(1));
        assert_eq!(parse_asn("Google"), None);
        assert_eq!(parse_asn("AS"), None);
        assert_eq!(parse_asn("99999999999"), None);
    }
}
