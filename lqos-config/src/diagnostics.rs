//! Problems found in the operator's input files, each with where it is, what was found and what
//! was expected. Every loader reports all problems in a file, not only the first.

use std::fmt;

/// What a problem does to the refresh that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The whole input is rejected: nothing is applied and the last good plan stays live.
    Reject,
    /// Only the named circuit is left out of the plan (reported, not shaped); the rest applies.
    Quarantine,
    /// Applied anyway, with the fallback the message describes.
    Warning,
    /// An adjustment made by design (for example scaled guarantees); shown with `--debug`.
    Info,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Reject => "error",
            Severity::Quarantine => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// Where in a file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole.
    File,
    /// A 1-based line, with an optional 1-based column.
    Line { line: u64, column: Option<u64> },
    /// A JSON path such as `$["Site 1"].children["AP 7"].downloadBandwidthMbps`.
    JsonPath(String),
    /// A TOML key such as `queues.default_sqm`.
    Key(String),
}

/// One problem in one input file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file's name as the operator knows it (for example `ShapedDevices.csv`).
    pub file: String,
    pub location: Location,
    /// The offending value, exactly as found, when there is one.
    pub value: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
    /// For [`Severity::Quarantine`]: the circuit left out (`None` when the row has no circuit id).
    pub circuit: Option<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        file: &str,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            file: file.to_string(),
            location,
            value: None,
            message: message.into(),
            circuit: None,
        }
    }

    /// Attaches the offending value.
    pub fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Marks the circuit this problem quarantines.
    pub fn circuit(mut self, circuit: impl Into<String>) -> Self {
        self.circuit = Some(circuit.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity.label(), self.file)?;
        match &self.location {
            Location::File => {}
            Location::Line { line, column: None } => write!(f, ":{line}")?,
            Location::Line {
                line,
                column: Some(c),
            } => write!(f, ":{line}:{c}")?,
            Location::JsonPath(p) => write!(f, " at {p}")?,
            Location::Key(k) => write!(f, " key `{k}`")?,
        }
        write!(f, ": ")?;
        if let Some(v) = &self.value {
            write!(f, "{v:?}: ")?;
        }
        write!(f, "{}", self.message)?;
        match (self.severity, &self.circuit) {
            (Severity::Quarantine, Some(c)) => {
                write!(f, " [circuit {c:?} quarantined: not shaped]")
            }
            (Severity::Quarantine, None) => write!(f, " [row skipped]"),
            (Severity::Reject, _) => write!(f, " [input rejected: nothing applied]"),
            _ => Ok(()),
        }
    }
}

/// All problems found while loading one set of inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// True when at least one problem rejects the whole input.
    pub fn rejects(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Reject)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.items {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Converts a byte offset in `text` into a 1-based (line, column).
pub fn line_col(text: &str, offset: usize) -> (u64, u64) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() as u64 + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1) as u64
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_line_value_and_effect() {
        let d = Diagnostic::new(
            Severity::Quarantine,
            "ShapedDevices.csv",
            Location::Line {
                line: 17,
                column: None,
            },
            "expected a number of Mbps greater than 0",
        )
        .value("fast")
        .circuit("C-17");
        assert_eq!(
            d.to_string(),
            "error: ShapedDevices.csv:17: \"fast\": expected a number of Mbps greater than 0 \
             [circuit \"C-17\" quarantined: not shaped]"
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd\nef", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }
}
