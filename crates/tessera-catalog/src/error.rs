//! Errors that point at the file, line and field at fault.

use std::fmt;

/// Where in which file something went wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// File path, or a name such as `<built-in chips.toml>`.
    pub path: String,
    /// 1-based line and column; 0 when unknown.
    pub line: usize,
    pub col: usize,
    /// Dotted field path, e.g. `chip[3].bf16-tflops`.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    /// The offending source line, for display.
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.col)?;
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field `{field}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(s) = &self.snippet {
            write!(f, "\n    | {s}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// Everything the catalog layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A file was read but is malformed or invalid.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
    /// An id that names nothing in the catalog.
    #[error("unknown {kind} `{id}`{}", suggest_text(.suggestions, .listing))]
    UnknownId {
        kind: &'static str,
        id: String,
        suggestions: Vec<String>,
        /// The command that lists the valid ids.
        listing: &'static str,
    },
    /// A short id (alias) that fits more than one catalog id.
    #[error("`{id}` could mean any of {}; give the full id\n  hint: `tessera chips list` shows all", .candidates.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))]
    AmbiguousId { id: String, candidates: Vec<String> },
}

fn suggest_text(s: &[String], listing: &str) -> String {
    if s.is_empty() {
        format!("\n  hint: `{listing}` shows the known ids")
    } else {
        format!(
            "\n  hint: did you mean {}? (`{listing}` shows all)",
            s.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The text of a 1-based line, trimmed and shortened for display.
pub fn line_text(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let l = l.trim_end();
    if l.chars().count() > 120 {
        Some(format!("{}...", l.chars().take(117).collect::<String>()))
    } else {
        Some(l.to_string())
    }
}

/// A source file being read, for building diagnostics.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub path: &'a str,
    pub text: &'a str,
}

impl<'a> Source<'a> {
    pub fn new(path: &'a str, text: &'a str) -> Self {
        Source { path, text }
    }

    /// An error at a byte offset.
    pub fn error_at(
        &self,
        offset: Option<usize>,
        field: Option<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> CatalogError {
        let (line, col, snippet) = match offset {
            Some(o) => {
                let (l, c) = line_col(self.text, o);
                (l, c, line_text(self.text, l))
            }
            None => (0, 0, None),
        };
        CatalogError::Invalid(Box::new(Diagnostic {
            path: self.path.to_string(),
            line,
            col,
            field,
            message: message.into(),
            hint,
            snippet,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 4));
        assert_eq!(line_col(t, 999), (3, 1));
    }
}
