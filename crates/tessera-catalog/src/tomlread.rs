//! Small helpers for walking a parsed TOML document with spans, so that every error
//! names its file, line and field.

use crate::error::{CatalogError, Source};
use tessera_core::figure::{Figure, Status};
use tessera_core::suggest::nearest;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub type Result<T> = std::result::Result<T, CatalogError>;

/// Parses a TOML document, mapping syntax errors to diagnostics.
pub fn parse<'i>(src: Source<'i>) -> Result<Spanned<DeTable<'i>>> {
    DeTable::parse(src.text).map_err(|e| {
        let msg = e.message().trim().to_string();
        src.error_at(
            e.span().map(|s| s.start),
            None,
            format!("invalid TOML: {msg}"),
            None,
        )
    })
}

/// A table being read, with the dotted path used in messages.
#[derive(Debug, Clone, Copy)]
pub struct Tbl<'a, 'i> {
    pub src: Source<'a>,
    pub table: &'a DeTable<'i>,
    /// Offset of the table's start, for "missing field" errors.
    pub at: usize,
    pub ctx: &'a str,
}

impl<'a, 'i> Tbl<'a, 'i> {
    pub fn new(src: Source<'a>, table: &'a DeTable<'i>, at: usize, ctx: &'a str) -> Self {
        Tbl {
            src,
            table,
            at,
            ctx,
        }
    }

    pub fn field_path(&self, key: &str) -> String {
        if self.ctx.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.ctx)
        }
    }

    /// Reports the first key not in `allowed`, with the nearest allowed names.
    pub fn deny_unknown(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref();
            if !allowed.contains(&name) {
                let near = nearest(name, allowed.iter().copied(), 3);
                let hint = if near.is_empty() {
                    format!("allowed fields: {}", allowed.join(", "))
                } else {
                    format!(
                        "did you mean {}?",
                        near.iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(self.src.error_at(
                    Some(k.span().start),
                    Some(self.field_path(name)),
                    "unknown field",
                    Some(hint),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<(&'a Spanned<DeString<'i>>, &'a Spanned<DeValue<'i>>)> {
        self.table.get_key_value(key)
    }

    /// Byte offset of `key`'s value, or of the table itself when the key is absent.
    pub fn pos(&self, key: &str) -> usize {
        self.get(key).map_or(self.at, |(_, v)| v.span().start)
    }

    pub fn err(
        &self,
        key: &str,
        at: usize,
        msg: impl Into<String>,
        hint: Option<String>,
    ) -> CatalogError {
        self.src
            .error_at(Some(at), Some(self.field_path(key)), msg, hint)
    }

    pub fn missing(&self, key: &str, hint: Option<String>) -> CatalogError {
        self.src.error_at(
            Some(self.at),
            Some(self.field_path(key)),
            "required field is missing",
            hint,
        )
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some((_, v)) => match v.get_ref() {
                DeValue::String(s) => Ok(Some(s.to_string())),
                DeValue::Datetime(d) => Ok(Some(d.to_string())),
                other => Err(self.err(
                    key,
                    v.span().start,
                    format!("expected a string, found {}", other.type_str()),
                    None,
                )),
            },
        }
    }

    pub fn req_str(&self, key: &str) -> Result<String> {
        self.opt_str(key)?.ok_or_else(|| self.missing(key, None))
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some((_, v)) => match v.get_ref() {
                DeValue::Boolean(b) => Ok(Some(*b)),
                other => Err(self.err(
                    key,
                    v.span().start,
                    format!("expected true or false, found {}", other.type_str()),
                    None,
                )),
            },
        }
    }

    /// A finite, non-negative number (integer or float).
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some((_, v)) => number(self, key, v).map(Some),
        }
    }

    /// A non-negative integer.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some((_, v)) => match v.get_ref() {
                DeValue::Integer(i) => {
                    let s = i.as_str();
                    if s.starts_with('-') {
                        return Err(self.err(
                            key,
                            v.span().start,
                            format!("must not be negative, found {s}"),
                            None,
                        ));
                    }
                    u64::from_str_radix(s, i.radix()).map(Some).map_err(|_| {
                        self.err(
                            key,
                            v.span().start,
                            format!("integer {s} is out of range"),
                            None,
                        )
                    })
                }
                other => Err(self.err(
                    key,
                    v.span().start,
                    format!("expected a whole number, found {}", other.type_str()),
                    None,
                )),
            },
        }
    }

    pub fn req_u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?.ok_or_else(|| self.missing(key, None))
    }

    pub fn opt_str_list(&self, key: &str) -> Result<Vec<String>> {
        match self.get(key) {
            None => Ok(vec![]),
            Some((_, v)) => match v.get_ref() {
                DeValue::Array(a) => a
                    .iter()
                    .map(|x| match x.get_ref() {
                        DeValue::String(s) => Ok(s.to_string()),
                        other => Err(self.err(
                            key,
                            x.span().start,
                            format!(
                                "expected a list of strings, found {} in it",
                                other.type_str()
                            ),
                            None,
                        )),
                    })
                    .collect(),
                other => Err(self.err(
                    key,
                    v.span().start,
                    format!("expected a list of strings, found {}", other.type_str()),
                    None,
                )),
            },
        }
    }

    /// A sub-table, if present.
    pub fn opt_table(&self, key: &str) -> Result<Option<(&'a DeTable<'i>, usize)>> {
        match self.get(key) {
            None => Ok(None),
            Some((_, v)) => match v.get_ref() {
                DeValue::Table(t) => Ok(Some((t, v.span().start))),
                other => Err(self.err(
                    key,
                    v.span().start,
                    format!("expected a table, found {}", other.type_str()),
                    None,
                )),
            },
        }
    }

    /// A figure: a plain number (status `user`, sourced to this file and line) or a
    /// table `{ value, status, source, note }`.
    pub fn opt_figure(&self, key: &str) -> Result<Option<Figure<f64>>> {
        let Some((_, v)) = self.get(key) else {
            return Ok(None);
        };
        match v.get_ref() {
            DeValue::Integer(_) | DeValue::Float(_) => {
                let value = number(self, key, v)?;
                let (line, _) = crate::error::line_col(self.src.text, v.span().start);
                Ok(Some(Figure::new(
                    value,
                    Status::User,
                    format!("{}:{line}", self.src.path),
                )))
            }
            DeValue::Table(t) => {
                let ctx = self.field_path(key);
                let sub = Tbl {
                    src: self.src,
                    table: t,
                    at: v.span().start,
                    ctx: &ctx,
                };
                sub.deny_unknown(&["value", "status", "source", "note"])?;
                let value = sub
                    .opt_f64("value")?
                    .ok_or_else(|| sub.missing("value", None))?;
                let status = match sub.get("status") {
                    None => Status::User,
                    Some((_, sv)) => {
                        let s = sub.req_str("status")?;
                        Status::parse(&s).ok_or_else(|| {
                            sub.err(
                                "status",
                                sv.span().start,
                                format!("unknown status `{s}`"),
                                Some(format!(
                                    "use one of: {}",
                                    Status::ALL.map(|s| s.as_str()).join(", ")
                                )),
                            )
                        })?
                    }
                };
                let source = match sub.opt_str("source")? {
                    Some(s) if !s.trim().is_empty() => s,
                    Some(_) => {
                        return Err(sub.err(
                            "source",
                            sub.at,
                            "must not be empty",
                            Some("say where the figure comes from".into()),
                        ));
                    }
                    None if status == Status::User => {
                        let (line, _) = crate::error::line_col(self.src.text, v.span().start);
                        format!("{}:{line}", self.src.path)
                    }
                    None => return Err(sub.missing(
                        "source",
                        Some(
                            "every figure with a status needs a source: a datasheet, paper or page"
                                .into(),
                        ),
                    )),
                };
                let note = sub.opt_str("note")?;
                Ok(Some(Figure {
                    value,
                    status,
                    source,
                    note,
                }))
            }
            other => Err(self.err(
                key,
                v.span().start,
                format!(
                    "expected a number or a table {{ value, status, source }}, found {}",
                    other.type_str()
                ),
                None,
            )),
        }
    }
}

use toml::de::DeString;

fn number(t: &Tbl<'_, '_>, key: &str, v: &Spanned<DeValue<'_>>) -> Result<f64> {
    let (text, parsed): (&str, Option<f64>) = match v.get_ref() {
        DeValue::Integer(i) => (
            i.as_str(),
            i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|x| x as f64),
        ),
        DeValue::Float(f) => (f.as_str(), f.as_str().parse::<f64>().ok()),
        other => {
            return Err(t.err(
                key,
                v.span().start,
                format!("expected a number, found {}", other.type_str()),
                None,
            ));
        }
    };
    match parsed {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        Some(x) if x.is_finite() => Err(t.err(
            key,
            v.span().start,
            format!("must not be negative, found {text}"),
            None,
        )),
        _ => Err(t.err(
            key,
            v.span().start,
            format!("must be a finite number, found {text}"),
            None,
        )),
    }
}

/// Iterates an array of tables `[[name]]`, giving each element as a `Tbl` context.
/// The `[[name]]` tables under `root`, each with its offset and its error context
/// `name[i]` (pass it to [`Tbl::new`]).
pub fn named_tables<'a, 'i>(
    src: Source<'a>,
    root: &'a DeTable<'i>,
    name: &str,
) -> Result<Vec<(String, &'a DeTable<'i>, usize)>> {
    Ok(array_of_tables(src, root, name)?
        .into_iter()
        .enumerate()
        .map(|(i, (t, at))| (format!("{name}[{i}]"), t, at))
        .collect())
}

pub fn array_of_tables<'a, 'i>(
    src: Source<'a>,
    root: &'a DeTable<'i>,
    name: &str,
) -> Result<Vec<(&'a DeTable<'i>, usize)>> {
    match root.get(name) {
        None => Ok(vec![]),
        Some(v) => match v.get_ref() {
            DeValue::Array(a) => a
                .iter()
                .map(|x| match x.get_ref() {
                    DeValue::Table(t) => Ok((t, x.span().start)),
                    other => Err(src.error_at(
                        Some(x.span().start),
                        Some(name.to_string()),
                        format!("expected tables ([[{name}]]), found {}", other.type_str()),
                        None,
                    )),
                })
                .collect(),
            other => Err(src.error_at(
                Some(v.span().start),
                Some(name.to_string()),
                format!(
                    "expected an array of tables ([[{name}]]), found {}",
                    other.type_str()
                ),
                None,
            )),
        },
    }
}
