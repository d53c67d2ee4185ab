//! Reading `[[event]]` entries: dated export-control facts about named chips or vendors.

use crate::error::Source;
use crate::tomlread::{Result, Tbl};
use tessera_core::date::Date;
use tessera_core::export::{EventKind, ExportEvent};
use toml::de::DeTable;

/// Reads one event. Every chip it names must be one of `known` (the catalog's chips as
/// merged so far, this file's included); an unknown id is an error naming the nearest.
pub fn read_event(
    src: Source<'_>,
    table: &DeTable<'_>,
    at: usize,
    index: usize,
    known: &[&str],
) -> Result<ExportEvent> {
    let ctx = format!("event[{index}]");
    let t = Tbl {
        src,
        table,
        at,
        ctx: &ctx,
    };
    t.deny_unknown(&[
        "date",
        "kind",
        "chips",
        "vendors",
        "destinations",
        "summary",
        "source",
        "label",
    ])?;
    let date_s = t.req_str("date")?;
    let pos = t.get("date").map_or(at, |(_, v)| v.span().start);
    let date = Date::parse(&date_s).map_err(|m| t.err("date", pos, m, None))?;
    let kind_s = t.req_str("kind")?;
    let kpos = t.get("kind").map_or(at, |(_, v)| v.span().start);
    let kind = EventKind::parse(&kind_s).ok_or_else(|| {
        t.err(
            "kind",
            kpos,
            format!("unknown event kind `{kind_s}`"),
            Some(format!(
                "use one of: {}",
                EventKind::ALL.map(|k| k.as_str()).join(", ")
            )),
        )
    })?;
    let chips = t.opt_str_list("chips")?;
    if let Some(bad) = chips.iter().find(|c| !known.contains(&c.as_str())) {
        let pos = t.get("chips").map_or(at, |(_, v)| v.span().start);
        let near = tessera_core::suggest::nearest(bad, known.iter().copied(), 3);
        return Err(t.err(
            "chips",
            pos,
            format!("unknown chip id `{bad}`"),
            (!near.is_empty()).then(|| format!("did you mean {}?", near.join(", "))),
        ));
    }
    let vendors = t.opt_str_list("vendors")?;
    if chips.is_empty() && vendors.is_empty() {
        return Err(t.missing(
            "chips",
            Some("an event names the chips or the vendors it concerns".into()),
        ));
    }
    Ok(ExportEvent {
        date,
        kind,
        chips,
        vendors,
        destinations: t.opt_str_list("destinations")?,
        summary: t.req_str("summary")?,
        source: t.req_str("source")?,
        label: t.opt_str("label")?.unwrap_or_else(|| "user".into()),
    })
}
