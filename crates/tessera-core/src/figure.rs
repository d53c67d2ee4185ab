//! A number with its provenance.

use std::fmt;

/// How well a figure is established. Mirrors the research notes' per-field status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Measured or specified exactly (a datasheet's capacity, a die size from the vendor).
    Exact,
    /// The vendor's own claim (peak FLOPS, bandwidth).
    VendorClaimed,
    /// Reported by a credible secondary source (press, analysts, databases).
    Reported,
    /// Derived or estimated; use with care.
    Approximate,
    /// A third-party figure whose own source is unknown (a table in a public repository
    /// that cites nothing checkable): a placeholder until someone measures it.
    Unverified,
    /// Supplied by the user's own catalog file without a stated status.
    User,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Exact,
        Status::VendorClaimed,
        Status::Reported,
        Status::Approximate,
        Status::Unverified,
        Status::User,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Exact => "exact",
            Status::VendorClaimed => "vendor-claimed",
            Status::Reported => "reported",
            Status::Approximate => "approximate",
            Status::Unverified => "unverified",
            Status::User => "user",
        }
    }

    /// Exact or the vendor's own figure: what an estimate may rest on without a warning.
    pub fn is_verified(self) -> bool {
        matches!(self, Status::Exact | Status::VendorClaimed)
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value with its status and source. An unknown figure is `None` where it is used,
/// never a zero.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure<T> {
    pub value: T,
    pub status: Status,
    pub source: String,
    pub note: Option<String>,
}

impl<T> Figure<T> {
    pub fn new(value: T, status: Status, source: impl Into<String>) -> Self {
        Figure {
            value,
            status,
            source: source.into(),
            note: None,
        }
    }
}
