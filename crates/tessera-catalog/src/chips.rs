//! Reading `[[chip]]` entries: new chips, and overrides of known ones.

use crate::error::Source;
use crate::tomlread::{Result, Tbl};
use tessera_core::chip::{Chip, FIGURE_KEYS, Price};
use tessera_core::figure::Status;
use tessera_core::suggest::nearest;
use toml::de::DeTable;

const TEXT_KEYS: [&str; 15] = [
    "name",
    "vendor",
    "variant",
    "segment",
    "memory-type",
    "scale-up-kind",
    "process",
    "die-area-basis",
    "collective-lib",
    "visible-devices-env",
    "k8s-resource",
    "software-stack",
    "export-notes",
    "confidence",
    "notes",
];

/// Every key a `[[chip]]` table may have.
pub fn allowed_keys() -> Vec<&'static str> {
    let mut v = vec![
        "id",
        "release-year",
        "announced",
        "datacenter",
        "scale-up-is-host-link",
        "reference-tpp",
    ];
    v.extend(TEXT_KEYS);
    v.extend(FIGURE_KEYS.iter().map(|(k, _)| *k));
    v
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 80
        && id.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' || c == '.'
        })
}

/// Applies one `[[chip]]` table to `chips`: overrides the chip with that id, or adds a
/// new chip (which then needs `name` and `vendor`).
pub fn apply_chip(
    src: Source<'_>,
    table: &DeTable<'_>,
    at: usize,
    index: usize,
    chips: &mut Vec<Chip>,
) -> Result<()> {
    let ctx = format!("chip[{index}]");
    let t = Tbl {
        src,
        table,
        at,
        ctx: &ctx,
    };
    let allowed = allowed_keys();
    t.deny_unknown(&allowed)?;
    let id = t.req_str("id")?;
    if !valid_id(&id) {
        let pos = t.get("id").map_or(at, |(_, v)| v.span().start);
        return Err(t.err(
            "id",
            pos,
            format!("`{id}` is not a valid id"),
            Some("use lowercase letters, digits, `-`, `_` and `.`".into()),
        ));
    }
    let existing = chips.iter().position(|c| c.id == id);
    let chip = match existing {
        Some(i) => &mut chips[i],
        None => {
            let name = t.req_str("name").map_err(|_| {
                let near = nearest(&id, chips.iter().map(|c| c.id.as_str()), 3);
                let hint = if near.is_empty() {
                    "a new chip needs `name` and `vendor`".to_string()
                } else {
                    format!(
                        "`{id}` is not a known chip, so this adds one, which needs `name` and `vendor`; to override a known chip, use its id: {}",
                        near.join(", ")
                    )
                };
                t.missing("name", Some(hint))
            })?;
            let vendor = t.req_str("vendor")?;
            chips.push(Chip::new(id.clone(), name, vendor));
            let n = chips.len() - 1;
            &mut chips[n]
        }
    };
    for key in TEXT_KEYS {
        if let Some(v) = t.opt_str(key)? {
            let slot = match key {
                "name" => {
                    chip.name = v;
                    continue;
                }
                "vendor" => {
                    chip.vendor = v;
                    continue;
                }
                "segment" => {
                    chip.segment = v;
                    continue;
                }
                "variant" => &mut chip.variant,
                "memory-type" => &mut chip.memory_type,
                "scale-up-kind" => &mut chip.scale_up_kind,
                "process" => &mut chip.process,
                "die-area-basis" => &mut chip.die_area_basis,
                "collective-lib" => &mut chip.collective_lib,
                "visible-devices-env" => &mut chip.visible_devices_env,
                "k8s-resource" => &mut chip.k8s_resource,
                "software-stack" => &mut chip.software_stack,
                "export-notes" => &mut chip.export_notes,
                "confidence" => &mut chip.confidence,
                _ => &mut chip.notes,
            };
            *slot = Some(v);
        }
    }
    if let Some((_, v)) = t.get("announced") {
        let s = t.req_str("announced")?;
        let full = if s.len() == 7 {
            format!("{s}-01")
        } else {
            s.clone()
        };
        let d = tessera_core::date::Date::parse(&full).map_err(|_| {
            t.err(
                "announced",
                v.span().start,
                format!("`{s}` is not a month (YYYY-MM) or a date (YYYY-MM-DD)"),
                None,
            )
        })?;
        chip.announced = Some(d);
    }
    if let Some((_, v)) = t.get("release-year") {
        let y = t.opt_u64("release-year")?.unwrap_or(0);
        if !(1990..=2100).contains(&y) {
            return Err(t.err(
                "release-year",
                v.span().start,
                format!("{y} is not a plausible year"),
                None,
            ));
        }
        chip.release_year = Some(y as u16);
    }
    if let Some(d) = t.opt_bool("datacenter")? {
        chip.datacenter = d;
    }
    if let Some(d) = t.opt_bool("scale-up-is-host-link")? {
        chip.scale_up_is_host_link = d;
    }
    if let Some(r) = t.opt_f64("reference-tpp")? {
        chip.reference_tpp = Some(r);
    }
    for (key, _) in FIGURE_KEYS {
        if key == "price" {
            continue;
        }
        if let Some(f) = t.opt_figure(key)? {
            if let Some((lo, hi)) = tessera_core::chip::plausible_range(key)
                && !(lo..=hi).contains(&f.value)
            {
                let pos = t.get(key).map_or(at, |(_, v)| v.span().start);
                return Err(t.err(
                    key,
                    pos,
                    format!("{:e} is outside the plausible range {lo}..={hi}", f.value),
                    Some(format!("units: {}", unit_of(key))),
                ));
            }
            if key == "scale-up-domain" && (f.value < 1.0 || f.value.fract() != 0.0) {
                let pos = t.get(key).map_or(at, |(_, v)| v.span().start);
                return Err(t.err(
                    key,
                    pos,
                    format!("must be a whole number of chips >= 1, found {}", f.value),
                    None,
                ));
            }
            if let Some(slot) = chip.figure_mut(key) {
                *slot = Some(f);
            }
        }
    }
    if let Some((pt, pat)) = t.opt_table("price")? {
        let pctx = format!("{ctx}.price");
        let p = Tbl {
            src,
            table: pt,
            at: pat,
            ctx: &pctx,
        };
        p.deny_unknown(&[
            "low", "high", "currency", "date", "status", "source", "basis",
        ])?;
        let low = p.opt_f64("low")?.ok_or_else(|| p.missing("low", None))?;
        let high = p.opt_f64("high")?.unwrap_or(low);
        if high < low {
            return Err(p.err(
                "high",
                pat,
                format!("high ({high}) is below low ({low})"),
                None,
            ));
        }
        let currency = p.req_str("currency")?;
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(p.err(
                "currency",
                pat,
                format!("`{currency}` is not an ISO 4217 code"),
                Some("for example USD or CNY".into()),
            ));
        }
        let status = match p.opt_str("status")? {
            None => Status::User,
            Some(s) => Status::parse(&s).ok_or_else(|| {
                p.err(
                    "status",
                    pat,
                    format!("unknown status `{s}`"),
                    Some(format!(
                        "use one of: {}",
                        Status::ALL.map(|s| s.as_str()).join(", ")
                    )),
                )
            })?,
        };
        let (line, _) = crate::error::line_col(src.text, pat);
        chip.price = Some(Price {
            low,
            high,
            currency,
            date: p.opt_str("date")?.unwrap_or_else(|| "undated".into()),
            status,
            source: p
                .opt_str("source")?
                .unwrap_or_else(|| format!("{}:{line}", src.path)),
            basis: p.opt_str("basis")?,
        });
    }
    Ok(())
}

fn unit_of(key: &str) -> &'static str {
    FIGURE_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("", |(_, u)| u)
}
