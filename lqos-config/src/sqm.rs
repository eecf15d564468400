//! The per-circuit `sqm` column: `cake`, `fq_codel`, `none`, or `down/up` with one per direction.

/// One direction's leaf queue choice from the `sqm` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqmKind {
    Cake,
    FqCodel,
    None,
}

/// A circuit's `sqm` override; `None` in a direction means "use the default".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqmOverride {
    pub download: Option<SqmKind>,
    pub upload: Option<SqmKind>,
}

impl SqmKind {
    fn parse(s: &str) -> Result<Option<SqmKind>, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "cake" => Ok(Some(SqmKind::Cake)),
            "fq_codel" | "fq-codel" | "fqcodel" => Ok(Some(SqmKind::FqCodel)),
            "none" => Ok(Some(SqmKind::None)),
            _ => Err(format!(
                "expected cake, fq_codel, none or down/up such as fq_codel/cake; found {s:?}"
            )),
        }
    }
}

impl SqmOverride {
    /// Parses a cell; an empty cell is `Ok(None)`.
    pub fn parse(cell: &str) -> Result<Option<SqmOverride>, String> {
        let cell = cell.trim();
        if cell.is_empty() {
            return Ok(None);
        }
        let (down, up) = match cell.split_once('/') {
            Some((d, u)) => (SqmKind::parse(d)?, SqmKind::parse(u)?),
            None => {
                let k = SqmKind::parse(cell)?;
                (k, k)
            }
        };
        Ok(Some(SqmOverride {
            download: down,
            upload: up,
        }))
    }
}

impl SqmKind {
    pub fn label(self) -> &'static str {
        match self {
            SqmKind::Cake => "cake",
            SqmKind::FqCodel => "fq_codel",
            SqmKind::None => "none",
        }
    }
}

/// The cell syntax: `cake`, or `down/up` when the directions differ (an empty side: default).
impl std::fmt::Display for SqmOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |k: Option<SqmKind>| k.map_or("", SqmKind::label);
        if self.download == self.upload {
            f.write_str(side(self.download))
        } else {
            write!(f, "{}/{}", side(self.download), side(self.upload))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_cell_syntax() {
        for cell in ["cake", "fq_codel/cake", "none", "/cake"] {
            let parsed = SqmOverride::parse(cell).unwrap().unwrap();
            assert_eq!(parsed.to_string(), cell);
        }
    }

    #[test]
    fn forms() {
        assert_eq!(SqmOverride::parse("").unwrap(), None);
        assert_eq!(
            SqmOverride::parse("fq_codel/cake").unwrap(),
            Some(SqmOverride {
                download: Some(SqmKind::FqCodel),
                upload: Some(SqmKind::Cake)
            })
        );
        assert_eq!(
            SqmOverride::parse("None").unwrap(),
            Some(SqmOverride {
                download: Some(SqmKind::None),
                upload: Some(SqmKind::None)
            })
        );
        assert!(SqmOverride::parse("sfq").is_err());
    }
}
