//! The maps' data and the About page: `country-centroids.json`, `world.json`,
//! `datasets.json` and the licence texts, read once from `[geo] data_dir` when the WebUI
//! starts (docs/geo-data.md) and served by lqosd itself, so the browser never asks another
//! host. A missing or unreadable file is a warning: the pages still render, without outlines
//! or positions, and say what is missing.

use super::auth::Viewer;
use super::error::ApiError;
use super::WebState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// A country's name and position (`[lon, lat]`) from country-centroids.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Centroid {
    pub name: String,
    pub centroid: Option<[f64; 2]>,
}

/// What was read from the data directory.
#[derive(Debug, Default)]
pub struct GeoData {
    /// world.json as read (or an empty outline set).
    pub world: Bytes,
    /// country-centroids.json as read (or an empty set).
    pub centroids_json: Bytes,
    pub centroids: HashMap<String, Centroid>,
    /// datasets.json, parsed.
    pub datasets: Option<Value>,
    /// Licence file name -> text.
    pub licenses: HashMap<String, Bytes>,
    /// What could not be read, for the About page.
    pub problems: Vec<String>,
    pub config: lqos_config::geo::Geo,
}

const EMPTY_WORLD: &[u8] = br#"{"format":1,"source":"","countries":[]}"#;
const EMPTY_CENTROIDS: &[u8] = br#"{"format":1,"countries":{}}"#;
/// Licence files are small texts; anything bigger is not one.
const MAX_LICENSE_BYTES: u64 = 1 << 20;

impl GeoData {
    /// Reads the data directory of `[geo]` (never fails: problems are logged and listed).
    pub fn load(config: &lqos_config::geo::Geo) -> Self {
        let mut data = GeoData {
            config: config.clone(),
            ..Default::default()
        };
        let dir = &config.data_dir;
        let mut read = |name: &str| -> Option<Vec<u8>> {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(b) => Some(b),
                Err(e) => {
                    let msg = format!("{}: {e}", path.display());
                    tracing::warn!("WebUI geo data: {msg}; the maps and About page go without it");
                    data.problems.push(msg);
                    None
                }
            }
        };
        let world = read("world.json");
        let centroids = read("country-centroids.json");
        let datasets = read("datasets.json");
        data.world = Bytes::from(world.unwrap_or_else(|| EMPTY_WORLD.to_vec()));
        let centroids = centroids.unwrap_or_else(|| EMPTY_CENTROIDS.to_vec());
        match parse_centroids(&centroids) {
            Ok(map) => data.centroids = map,
            Err(e) => data.problems.push(format!("country-centroids.json: {e}")),
        }
        data.centroids_json = Bytes::from(centroids);
        if let Some(bytes) = datasets {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => data.datasets = Some(v),
                Err(e) => data.problems.push(format!("datasets.json: {e}")),
            }
        }
        data.load_licenses();
        data
    }

    /// The licence files datasets.json names (`licenses/NAME`), read once.
    fn load_licenses(&mut self) {
        let names: Vec<String> = self
            .datasets
            .iter()
            .flat_map(|d| d["datasets"].as_array().cloned().unwrap_or_default())
            .flat_map(|d| d["license_files"].as_array().cloned().unwrap_or_default())
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect();
        for rel in names {
            let Some(name) = rel.strip_prefix("licenses/") else {
                continue;
            };
            if name.contains('/') || name.starts_with('.') {
                continue;
            }
            let path = self.config.data_dir.join("licenses").join(name);
            let ok = std::fs::metadata(&path).is_ok_and(|m| m.len() <= MAX_LICENSE_BYTES);
            match std::fs::read(&path) {
                Ok(b) if ok => {
                    self.licenses.insert(name.to_owned(), Bytes::from(b));
                }
                Ok(_) => self.problems.push(format!("{}: too big", path.display())),
                Err(e) => self.problems.push(format!("{}: {e}", path.display())),
            }
        }
    }

    /// A country's name and position.
    pub fn centroid(&self, code: &str) -> Option<&Centroid> {
        self.centroids.get(code)
    }
}

fn parse_centroids(bytes: &[u8]) -> Result<HashMap<String, Centroid>, serde_json::Error> {
    let v: Value = serde_json::from_slice(bytes)?;
    let mut out = HashMap::new();
    if let Some(map) = v["countries"].as_object() {
        for (code, c) in map {
            let centroid = c["centroid"]
                .as_array()
                .and_then(|a| Some([a.first()?.as_f64()?, a.get(1)?.as_f64()?]));
            let name = c["name"].as_str().unwrap_or(code).to_owned();
            out.insert(code.clone(), Centroid { name, centroid });
        }
    }
    Ok(out)
}

fn json(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// `GET /api/geo/world`: the country outlines.
pub async fn world(State(s): State<WebState>, _v: Viewer) -> Response {
    json(s.inner.geo.data.world.clone())
}

/// `GET /api/geo/centroids`: country names and positions.
pub async fn centroids(State(s): State<WebState>, _v: Viewer) -> Response {
    json(s.inner.geo.data.centroids_json.clone())
}

/// `GET /api/geo/licenses/{name}`: one bundled licence text.
pub async fn license(
    State(s): State<WebState>,
    _v: Viewer,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let text = s
        .inner
        .geo
        .data
        .licenses
        .get(&name)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("no bundled licence file {name:?}")))?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Serialize)]
struct About<'a> {
    version: &'static str,
    node_name: &'a str,
    datasets: Option<&'a Value>,
    tables: lqos_telemetry::geo::GeoStats,
    asn_file: String,
    country_file: String,
    data_dir: String,
    tile_url: Option<&'a str>,
    licenses: Vec<&'a str>,
    problems: &'a [String],
}

/// `GET /api/about`: lqos's version, every bundled dataset (version, licence, attribution),
/// the loaded tables and what could not be read.
pub async fn about(State(s): State<WebState>, _v: Viewer) -> Result<Response, ApiError> {
    let data = &s.inner.geo.data;
    let tables = s.inner.shared.telemetry.geo().map(|g| g.stats()).unwrap_or(
        lqos_telemetry::geo::GeoStats {
            asn: None,
            country: None,
        },
    );
    let mut licenses: Vec<&str> = data.licenses.keys().map(String::as_str).collect();
    licenses.sort_unstable();
    let body = About {
        version: env!("CARGO_PKG_VERSION"),
        node_name: &s.inner.config.node_name,
        datasets: data.datasets.as_ref(),
        tables,
        asn_file: data.config.asn_file.display().to_string(),
        country_file: data.config.country_file.display().to_string(),
        data_dir: data.config.data_dir.display().to_string(),
        tile_url: data.config.tile_url.as_deref(),
        licenses,
        problems: &data.problems,
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::internal("writing JSON", e))?;
    Ok(json(Bytes::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_degrades_to_empty_data() {
        let config = lqos_config::geo::Geo {
            data_dir: "/nonexistent/lqos-geo".into(),
            ..Default::default()
        };
        let d = GeoData::load(&config);
        assert_eq!(d.problems.len(), 3, "{:?}", d.problems);
        assert!(d.centroids.is_empty());
        assert_eq!(&d.world[..], EMPTY_WORLD);
        assert!(d.datasets.is_none());
    }

    #[test]
    fn centroids_and_licenses_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("country-centroids.json"),
            r#"{"format":1,"countries":{"FR":{"name":"France","centroid":[2.46,46.57]},"BV":{"name":"Bouvet Island"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("world.json"),
            r#"{"format":1,"countries":[]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("datasets.json"),
            r#"{"format":1,"datasets":[{"id":"asn","license_files":["licenses/asn-LICENSE","../../etc/passwd"]}]}"#,
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("licenses")).unwrap();
        std::fs::write(dir.path().join("licenses/asn-LICENSE"), "CC BY 4.0").unwrap();
        let d = GeoData::load(&lqos_config::geo::Geo {
            data_dir: dir.path().into(),
            ..Default::default()
        });
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.centroid("FR").unwrap().centroid, Some([2.46, 46.57]));
        assert_eq!(d.centroid("BV").unwrap().centroid, None);
        assert_eq!(d.licenses.len(), 1, "only files under licenses/");
        assert_eq!(&d.licenses["asn-LICENSE"][..], b"CC BY 4.0");
    }

    #[test]
    fn the_default_paths_agree_with_lqos_telemetry() {
        assert_eq!(
            lqos_config::geo::DEFAULT_ASN_FILE,
            lqos_telemetry::geo::DEFAULT_ASN_FILE
        );
        assert_eq!(
            lqos_config::geo::DEFAULT_COUNTRY_FILE,
            lqos_telemetry::geo::DEFAULT_COUNTRY_FILE
        );
    }
}
