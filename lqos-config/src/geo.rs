//! `[geo]`: where lqosd finds the offline ASN and country tables, the country positions and
//! world outlines the WebUI's maps draw, the datasets' manifest and licences (docs/geo-data.md),
//! and an optional street-tile server for the site map. Nothing here is ever downloaded.

use crate::diagnostics::{Diagnostic, Diagnostics, Location, Severity};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the package installs the geo data (`lqos_telemetry::geo`'s defaults live here too;
/// lqosd tests that the two agree).
pub const DEFAULT_GEO_DIR: &str = "/usr/share/lqos/geo";
/// The bundled IP -> ASN table.
pub const DEFAULT_ASN_FILE: &str = "/usr/share/lqos/geo/asn.bin";
/// The bundled IP -> country table.
pub const DEFAULT_COUNTRY_FILE: &str = "/usr/share/lqos/geo/country.bin";

/// The geo data lqosd loads at start.
#[derive(Debug, Clone, PartialEq)]
pub struct Geo {
    /// The IP -> ASN table (`lqos-geo-build asn`).
    pub asn_file: PathBuf,
    /// The IP -> country table (`lqos-geo-build country`).
    pub country_file: PathBuf,
    /// The directory with `country-centroids.json`, `world.json`, `datasets.json` and
    /// `licenses/` (the maps' geometry and the About page).
    pub data_dir: PathBuf,
    /// Street tiles for the site map, `{z}`, `{x}` and `{y}` replaced (e.g.
    /// `https://tiles.example.net/{z}/{x}/{y}.png`); `None` (the default): no tiles, the map
    /// shows the bundled world outlines only and the browser asks no other host for anything.
    pub tile_url: Option<String>,
}

impl Default for Geo {
    fn default() -> Self {
        Geo {
            asn_file: DEFAULT_ASN_FILE.into(),
            country_file: DEFAULT_COUNTRY_FILE.into(),
            data_dir: DEFAULT_GEO_DIR.into(),
            tile_url: None,
        }
    }
}

impl Geo {
    /// The origin (`https://host:port`) of the tile URL, for the page's security policy.
    pub fn tile_origin(&self) -> Option<String> {
        let url = self.tile_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        Some(format!("{scheme}://{host}"))
    }
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct RawGeo {
    asn_file: Option<PathBuf>,
    country_file: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    tile_url: Option<String>,
}

/// Checks a tile URL: http(s), a host, and the `{z}`, `{x}`, `{y}` placeholders; no
/// characters that would break out of the security policy header.
fn check_tile_url(url: &str) -> Result<(), &'static str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("expected an http:// or https:// URL");
    };
    if scheme != "http" && scheme != "https" {
        return Err("expected an http:// or https:// URL");
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return Err("expected a host name (letters, digits, '.', '-', a :port) after the scheme");
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ';' | ',' | '\'' | '"'))
    {
        return Err("expected a URL without spaces, quotes, ';' or ','");
    }
    for p in ["{z}", "{x}", "{y}"] {
        if !url.contains(p) {
            return Err("expected the placeholders {z}, {x} and {y}");
        }
    }
    Ok(())
}

pub(crate) fn build(raw: Option<RawGeo>, file: &str, base: &Path, diags: &mut Diagnostics) -> Geo {
    let Some(raw) = raw else {
        return Geo::default();
    };
    let defaults = Geo::default();
    let resolve = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
    let tile_url = match raw.tile_url {
        Some(u) if u.trim().is_empty() => None,
        Some(u) => match check_tile_url(&u) {
            Ok(()) => Some(u),
            Err(msg) => {
                diags.push(
                    Diagnostic::new(
                        Severity::Reject,
                        file,
                        Location::Key("geo.tile_url".into()),
                        msg,
                    )
                    .value(u),
                );
                None
            }
        },
        None => None,
    };
    Geo {
        asn_file: raw.asn_file.map_or(defaults.asn_file, resolve),
        country_file: raw.country_file.map_or(defaults.country_file, resolve),
        data_dir: raw.data_dir.map_or(defaults.data_dir, resolve),
        tile_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Geo, Diagnostics) {
        let raw: RawGeo = toml::from_str(text).unwrap();
        let mut d = Diagnostics::default();
        let g = build(Some(raw), "lqos.conf", Path::new("/etc"), &mut d);
        (g, d)
    }

    #[test]
    fn defaults_are_the_packaged_files() {
        let mut d = Diagnostics::default();
        let g = build(None, "lqos.conf", Path::new("/etc"), &mut d);
        assert_eq!(g.asn_file, PathBuf::from("/usr/share/lqos/geo/asn.bin"));
        assert_eq!(
            g.country_file,
            PathBuf::from("/usr/share/lqos/geo/country.bin")
        );
        assert_eq!(g.data_dir, PathBuf::from("/usr/share/lqos/geo"));
        assert_eq!(g.tile_url, None);
        assert!(d.is_empty());
        // The files are in the directory.
        assert!(g.asn_file.starts_with(&g.data_dir) && g.country_file.starts_with(&g.data_dir));
    }

    #[test]
    fn relative_paths_resolve_against_the_config_directory() {
        let (g, d) = parse("asn_file = \"geo/asn.bin\"\ndata_dir = \"/srv/geo\"\n");
        assert_eq!(g.asn_file, PathBuf::from("/etc/geo/asn.bin"));
        assert_eq!(g.country_file, PathBuf::from(DEFAULT_COUNTRY_FILE));
        assert_eq!(g.data_dir, PathBuf::from("/srv/geo"));
        assert!(d.is_empty());
    }

    #[test]
    fn tile_urls_are_checked() {
        let (g, d) = parse("tile_url = \"https://tiles.example.net:8443/{z}/{x}/{y}.png\"\n");
        assert!(d.is_empty());
        assert_eq!(
            g.tile_origin().as_deref(),
            Some("https://tiles.example.net:8443")
        );
        for bad in [
            "ftp://x/{z}/{x}/{y}",
            "https://tiles.example.net/tile.png",
            "https://a b/{z}/{x}/{y}",
            "https://x/{z}/{x}/{y}; script-src *",
            "https:///{z}/{x}/{y}",
        ] {
            let (g, d) = parse(&format!("tile_url = {bad:?}\n"));
            assert!(d.rejects(), "{bad} accepted");
            assert_eq!(g.tile_url, None);
        }
        let (g, d) = parse("tile_url = \"\"\n");
        assert!(d.is_empty());
        assert_eq!(g.tile_url, None);
    }
}
