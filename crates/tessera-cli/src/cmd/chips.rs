//! `tessera chips ...`

use crate::cli::{ChipsCmd, Format};
use crate::cmd::date_arg;
use crate::exit::Result;
use crate::out::{self, num, opt};
use tessera_catalog::Catalog;
use tessera_core::chip::{Chip, FIGURE_KEYS, Precision};
use tessera_core::date::Date;
use tessera_core::export::{self, china_status, classify_2022, classify_2023};
use tessera_core::money::{to_usd, usd_per_unit};
use tessera_output::catalog::{
    ChipCompareV1, ChipDerivedV1, ChipListV1, ChipRowV1, ChipShowV1, ChipV1, CompareRowV1,
    CompareTextV1,
};

/// The chips of Baidu's November 2023 decision: the Ascend 910B it ordered and the
/// Nvidia parts it could (A800, H800: until 2023-11-17) or still could (H20) buy.
pub const BAIDU_2023: [&str; 4] = [
    "huawei-ascend-910b2",
    "nvidia-a800-sxm4-80gb",
    "nvidia-h800-sxm5-80gb",
    "nvidia-h20",
];
pub const BAIDU_2023_DATE: Date = Date::new(2023, 11, 17);

pub fn run(cat: &Catalog, fmt: Format, cmd: ChipsCmd) -> Result<()> {
    match cmd {
        ChipsCmd::List { vendor } => list(cat, fmt, vendor.as_deref()),
        ChipsCmd::Show { id } => show(cat, fmt, &id),
        ChipsCmd::Compare { ids, date } => {
            let (ids, date) = if ids.is_empty() {
                let d = match date {
                    Some(s) => date_arg(Some(&s))?,
                    None => BAIDU_2023_DATE,
                };
                (BAIDU_2023.iter().map(|s| s.to_string()).collect(), d)
            } else {
                (ids, date_arg(date.as_deref())?)
            };
            compare(cat, fmt, &ids, date)
        }
    }
}

fn v(f: &Option<tessera_core::Figure<f64>>) -> Option<f64> {
    f.as_ref().map(|f| f.value)
}

fn list(cat: &Catalog, fmt: Format, vendor: Option<&str>) -> Result<()> {
    let chips: Vec<&Chip> = cat
        .chips
        .iter()
        .filter(|c| {
            vendor.is_none_or(|v| {
                c.vendor
                    .to_ascii_lowercase()
                    .contains(&v.to_ascii_lowercase())
            })
        })
        .collect();
    if fmt == Format::Json {
        return out::print_json(&ChipListV1 {
            chips: chips.iter().map(|c| ChipRowV1::from(*c)).collect(),
        });
    }
    let mut t = out::table(&[
        "id",
        "vendor",
        "bf16 TF",
        "fp16 TF",
        "fp8 TF",
        "int8 TOPS",
        "mem GB",
        "mem TB/s",
        "scale-up GB/s",
        "TDP W",
    ]);
    for c in &chips {
        t.add_row(vec![
            c.id.clone(),
            c.vendor.clone(),
            opt(v(&c.bf16_tflops)),
            opt(v(&c.fp16_tflops)),
            opt(v(&c.fp8_tflops)),
            opt(v(&c.int8_tops)),
            opt(v(&c.memory_gb)),
            opt(v(&c.memory_bw_tb_s)),
            opt(v(&c.scale_up_gb_s)),
            opt(v(&c.tdp_w)),
        ]);
    }
    crate::outln!("{t}");
    crate::outln!(
        "{} chips. Figures are dense peaks; `unknown` means no trustworthy public figure. `tessera chips show ID` gives sources.",
        chips.len()
    );
    Ok(())
}

fn derived(c: &Chip) -> ChipDerivedV1 {
    let t = export::tpp(c);
    let v23 = classify_2023(c);
    ChipDerivedV1 {
        tpp: t.value,
        tpp_from: t.from.map(|p| p.as_str()),
        performance_density: v23.pd,
        eccn_oct2022: classify_2022(c).summary,
        eccn_oct2023: v23.summary,
    }
}

fn show(cat: &Catalog, fmt: Format, id: &str) -> Result<()> {
    let c = cat.chip(id)?;
    let d = derived(c);
    if fmt == Format::Json {
        return out::print_json(&ChipShowV1 {
            chip: ChipV1::from(c),
            derived: d,
        });
    }
    crate::outln!("{} — {}", c.id, c.label());
    crate::outln!(
        "vendor: {}   segment: {}   released: {}",
        c.vendor,
        c.segment,
        c.release_year.map_or("unknown".into(), |y| y.to_string())
    );
    let mut t = out::table(&["figure", "value", "unit", "status", "source"]);
    for (key, unit) in FIGURE_KEYS {
        if key == "price" {
            continue;
        }
        match c.figure(key) {
            Some(f) => {
                let src = match &f.note {
                    Some(n) => format!("{} [{}]", f.source, n),
                    None => f.source.clone(),
                };
                t.add_row(vec![
                    key.to_string(),
                    num(f.value),
                    unit.to_string(),
                    f.status.to_string(),
                    src,
                ]);
            }
            None => {
                t.add_row(vec![
                    key.to_string(),
                    "unknown".into(),
                    unit.to_string(),
                    "-".into(),
                    "no trustworthy public figure".into(),
                ]);
            }
        }
    }
    match &c.price {
        Some(p) => {
            let basis = p
                .basis
                .as_ref()
                .map_or(String::new(), |b| format!(" [{b}]"));
            t.add_row(vec![
                "price".to_string(),
                if p.low == p.high {
                    num(p.low)
                } else {
                    format!("{}-{}", num(p.low), num(p.high))
                },
                format!("{} ({})", p.currency, p.date),
                p.status.to_string(),
                format!("{}{basis}", p.source),
            ]);
        }
        None => {
            t.add_row(vec![
                "price".to_string(),
                "unknown".into(),
                String::new(),
                "-".into(),
                "no public price".into(),
            ]);
        }
    }
    crate::outln!("{t}");
    let mut info = out::table(&["attribute", "value"]);
    for (k, val) in [
        ("memory type", &c.memory_type),
        ("scale-up link", &c.scale_up_kind),
        ("process", &c.process),
        ("die area basis", &c.die_area_basis),
        ("collective library", &c.collective_lib),
        ("device visibility", &c.visible_devices_env),
        ("Kubernetes resource", &c.k8s_resource),
        ("software stack", &c.software_stack),
        ("confidence", &c.confidence),
        ("notes", &c.notes),
    ] {
        info.add_row(vec![
            k.to_string(),
            val.clone().unwrap_or_else(|| "unknown".into()),
        ]);
    }
    info.add_row(vec![
        "TPP".to_string(),
        match (d.tpp, d.tpp_from) {
            (Some(t), Some(p)) => format!("{} (from {p})", num(t)),
            _ => "unknown (no compute figure)".into(),
        },
    ]);
    info.add_row(vec![
        "performance density".to_string(),
        d.performance_density
            .map_or("unknown (die area or TPP unknown)".into(), |p| {
                format!("{p:.2}")
            }),
    ]);
    info.add_row(vec!["3A090, Oct 2022 rule".to_string(), d.eccn_oct2022]);
    info.add_row(vec!["3A090, Oct 2023 rule".to_string(), d.eccn_oct2023]);
    crate::outln!("{info}");
    Ok(())
}

/// Dense 16-bit peak: bf16, else fp16 (some vendors publish only fp16).
fn peak16(c: &Chip) -> Option<f64> {
    c.peak(Precision::Bf16)
        .or(c.peak(Precision::Fp16))
        .map(|f| f.value)
}

fn price_usd(c: &Chip) -> Option<f64> {
    c.price.as_ref().and_then(|p| to_usd(p.mid(), &p.currency))
}

fn compare(cat: &Catalog, fmt: Format, ids: &[String], date: Date) -> Result<()> {
    let chips: Vec<&Chip> = ids
        .iter()
        .map(|i| cat.chip(i))
        .collect::<std::result::Result<_, _>>()?;
    let mut rows = Vec::new();
    let mut add =
        |metric: &str, unit: &str, f: &dyn Fn(&Chip) -> Option<f64>, note: Option<&str>| {
            let values: Vec<Option<f64>> = chips.iter().map(|c| f(c)).collect();
            let base = values[0];
            let ratios = values
                .iter()
                .map(|v| match (v, base) {
                    (Some(v), Some(b)) if b != 0.0 => Some(v / b),
                    _ => None,
                })
                .collect();
            rows.push(CompareRowV1 {
                metric: metric.into(),
                unit: unit.into(),
                values,
                ratios,
                note: note.map(String::from),
            });
        };
    add("bf16 dense", "TFLOP/s", &|c| v(&c.bf16_tflops), None);
    add("fp16 dense", "TFLOP/s", &|c| v(&c.fp16_tflops), None);
    add(
        "16-bit dense (bf16, else fp16)",
        "TFLOP/s",
        &peak16,
        Some("Huawei and Kunlunxin publish only fp16 peaks"),
    );
    add("fp8 dense", "TFLOP/s", &|c| v(&c.fp8_tflops), None);
    add("int8 dense", "TOP/s", &|c| v(&c.int8_tops), None);
    add("memory", "GB", &|c| v(&c.memory_gb), None);
    add("memory bandwidth", "TB/s", &|c| v(&c.memory_bw_tb_s), None);
    add("scale-up link", "GB/s", &|c| v(&c.scale_up_gb_s), None);
    add("scale-up domain", "chips", &|c| v(&c.scale_up_domain), None);
    add("scale-out", "GB/s", &|c| v(&c.scale_out_gb_s), None);
    add("TDP", "W", &|c| v(&c.tdp_w), None);
    add(
        "16-bit TFLOP/s per kW",
        "TFLOP/s/kW",
        &|c| Some(peak16(c)? / v(&c.tdp_w)? * 1000.0),
        None,
    );
    add(
        "price (mid-point)",
        "USD",
        &price_usd,
        Some("converted to USD where reported in another currency"),
    );
    add(
        "USD per 16-bit TFLOP/s",
        "USD",
        &|c| Some(price_usd(c)? / peak16(c)?),
        Some("price-performance: lower is better"),
    );
    add(
        "USD per GB of memory",
        "USD",
        &|c| Some(price_usd(c)? / v(&c.memory_gb)?),
        None,
    );
    add("TPP", "", &|c| export::tpp(c).value, None);
    add(
        "performance density",
        "TPP/mm2",
        &|c| classify_2023(c).pd,
        None,
    );

    let export_rows = vec![
        CompareTextV1 {
            metric: "3A090, Oct 2022 rule".into(),
            values: chips.iter().map(|c| classify_2022(c).summary).collect(),
        },
        CompareTextV1 {
            metric: "3A090, Oct 2023 rule".into(),
            values: chips.iter().map(|c| classify_2023(c).summary).collect(),
        },
        CompareTextV1 {
            metric: format!("buyer in China on {date}"),
            values: chips
                .iter()
                .map(|c| china_status(c, date, &cat.events))
                .collect(),
        },
    ];
    let mut notes = vec!["Figures are dense peaks from the catalog; `tessera chips show ID` gives each figure's status and source.".to_string()];
    if let Some((_, src)) = usd_per_unit("CNY")
        && chips
            .iter()
            .any(|c| c.price.as_ref().is_some_and(|p| p.currency == "CNY"))
    {
        notes.push(format!("CNY prices converted at {src}."));
    }
    for c in &chips {
        if c.price.is_none() {
            notes.push(format!(
                "{}: no public price, so its price-performance is unknown.",
                c.id
            ));
        }
    }
    let cmp = ChipCompareV1 {
        chips: ids.to_vec(),
        baseline: ids[0].clone(),
        date: date.to_string(),
        rows,
        export: export_rows,
        notes,
    };
    if fmt == Format::Json {
        return out::print_json(&cmp);
    }
    let mut header: Vec<String> = vec!["metric".into(), "unit".into()];
    for (i, c) in chips.iter().enumerate() {
        header.push(if i == 0 {
            format!("{} (baseline)", c.id)
        } else {
            c.id.clone()
        });
    }
    let href: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut t = out::table(&href);
    for r in &cmp.rows {
        let mut row = vec![r.metric.clone(), r.unit.clone()];
        for (i, (val, ratio)) in r.values.iter().zip(&r.ratios).enumerate() {
            row.push(match (val, ratio) {
                (Some(x), Some(q)) if i > 0 => format!("{} ({:.2}x)", num(*x), q),
                (Some(x), _) => num(*x),
                (None, _) => "unknown".into(),
            });
        }
        t.add_row(row);
    }
    for r in &cmp.export {
        let mut row = vec![r.metric.clone(), String::new()];
        row.extend(r.values.iter().cloned());
        t.add_row(row);
    }
    crate::outln!("{t}");
    for n in &cmp.notes {
        crate::outln!("note: {n}");
    }
    Ok(())
}
