//! Purchase scenario files (docs/procure.md).

use crate::error::Source;
use crate::tomlread::{self, Result, Tbl};
use tessera_core::date::Date;
use tessera_core::procure::{Candidate, Owned, Reference, Scenario, ServeNeed, TrainNeed};

pub const BUILTIN_SCENARIOS: [(&str, &str); 1] = [(
    "baidu-2023",
    include_str!("../data/scenarios/baidu-2023.toml"),
)];

pub fn parse_scenario(path: &str, text: &str) -> Result<Scenario> {
    let src = Source::new(path, text);
    let doc = tomlread::parse(src)?;
    let root = doc.get_ref();
    let t = Tbl::new(src, root, 0, "");
    t.deny_unknown(&[
        "id",
        "name",
        "description",
        "country",
        "date",
        "currency",
        "budget",
        "power-cap-kw",
        "energy-price-per-kwh",
        "pue",
        "train",
        "serve",
        "owned",
        "candidate",
        "reference",
        "link",
    ])?;
    let id = t.opt_str("id")?.unwrap_or_else(|| "scenario".into());
    let date_s = t.req_str("date")?;
    let dpos = t.pos("date");
    let date = Date::parse(&date_s).map_err(|m| t.err("date", dpos, m, None))?;
    let currency = t.opt_str("currency")?.unwrap_or_else(|| "USD".into());
    if tessera_core::money::usd_per_unit(&currency).is_none() {
        let pos = t.pos("currency");
        return Err(t.err(
            "currency",
            pos,
            format!("tessera converts USD and CNY, not `{currency}`"),
            None,
        ));
    }
    let mut train = Vec::new();
    for (ctx, tt, at) in tomlread::named_tables(src, root, "train")? {
        let w = Tbl::new(src, tt, at, &ctx);
        w.deny_unknown(&["model", "tokens", "days", "seq-len"])?;
        let tokens = w
            .opt_f64("tokens")?
            .ok_or_else(|| w.missing("tokens", None))?;
        let days = w.opt_f64("days")?.ok_or_else(|| w.missing("days", None))?;
        for (k, v) in [("tokens", tokens), ("days", days)] {
            if v <= 0.0 {
                let pos = w.pos(k);
                return Err(w.err(k, pos, "must be positive", None));
            }
        }
        train.push(TrainNeed {
            model: w.req_str("model")?,
            tokens,
            days,
            seq_len: w.opt_u64("seq-len")?.unwrap_or(4096).clamp(1, 1 << 20) as u32,
        });
    }
    let mut serve = Vec::new();
    for (ctx, st, at) in tomlread::named_tables(src, root, "serve")? {
        let w = Tbl::new(src, st, at, &ctx);
        w.deny_unknown(&[
            "model",
            "rate",
            "input-len",
            "output-len",
            "ttft-slo",
            "tpot-slo",
        ])?;
        let rate = w.opt_f64("rate")?.ok_or_else(|| w.missing("rate", None))?;
        if rate <= 0.0 {
            let pos = w.pos("rate");
            return Err(w.err("rate", pos, "must be positive", None));
        }
        serve.push(ServeNeed {
            model: w.req_str("model")?,
            rate,
            input_len: w.opt_u64("input-len")?.unwrap_or(1024).clamp(1, 1 << 20) as u32,
            output_len: w.opt_u64("output-len")?.unwrap_or(512).clamp(1, 1 << 20) as u32,
            ttft_slo_s: w.opt_f64("ttft-slo")?,
            tpot_slo_s: w.opt_f64("tpot-slo")?,
        });
    }
    let mut owned = Vec::new();
    for (ctx, ot, at) in tomlread::named_tables(src, root, "owned")? {
        let w = Tbl::new(src, ot, at, &ctx);
        w.deny_unknown(&["chip", "count"])?;
        owned.push(Owned {
            chip: w.req_str("chip")?,
            count: w.req_u64("count")?.min(10_000_000),
        });
    }
    let mut candidates = Vec::new();
    for (ctx, ct, at) in tomlread::named_tables(src, root, "candidate")? {
        let w = Tbl::new(src, ct, at, &ctx);
        w.deny_unknown(&["chip", "price", "max", "node-size"])?;
        let node = w.opt_u64("node-size")?.unwrap_or(8);
        if node == 0 || node > 1024 {
            return Err(w.err("node-size", at, "must be between 1 and 1,024", None));
        }
        candidates.push(Candidate {
            chip: w.req_str("chip")?,
            price: w.opt_f64("price")?,
            max: w.opt_u64("max")?.map(|m| m.min(100_000_000)),
            node_size: node,
        });
    }
    let reference = match t.opt_table("reference")? {
        None => None,
        Some((rt, at)) => {
            let w = Tbl {
                src,
                table: rt,
                at,
                ctx: "reference",
            };
            w.deny_unknown(&["name", "purchase", "cost"])?;
            let (pt, pat) = w
                .opt_table("purchase")?
                .ok_or_else(|| w.missing("purchase", None))?;
            let pw = Tbl {
                src,
                table: pt,
                at: pat,
                ctx: "reference.purchase",
            };
            let mut purchase = Vec::new();
            for (k, v) in pt.iter() {
                let chip = k.get_ref().to_string();
                if !candidates.iter().any(|c: &Candidate| c.chip == chip)
                    && !owned.iter().any(|o: &Owned| o.chip == chip)
                {
                    return Err(pw.err(
                        &chip,
                        v.span().start,
                        "names a chip that is neither [[owned]] nor a [[candidate]]",
                        None,
                    ));
                }
                purchase.push((chip, pw.req_u64(k.get_ref())?.min(10_000_000)));
            }
            if purchase.is_empty() {
                return Err(w.err("purchase", pat, "names no chips", None));
            }
            Some(Reference {
                name: w
                    .opt_str("name")?
                    .unwrap_or_else(|| "reference purchase".into()),
                purchase,
                cost: w.opt_f64("cost")?,
            })
        }
    };
    let links = crate::fleets::read_links(src, root, "chips", "chip types", |n| {
        (!candidates.iter().any(|c: &Candidate| c.chip == n)
            && !owned.iter().any(|o: &Owned| o.chip == n))
        .then(|| format!("`{n}` is neither [[owned]] nor a [[candidate]]"))
    })?;
    let pue = t.opt_f64("pue")?.unwrap_or(1.0);
    if !(1.0..=3.0).contains(&pue) {
        let pos = t.pos("pue");
        return Err(t.err("pue", pos, "must be between 1.0 and 3.0", None));
    }
    if candidates.is_empty() {
        return Err(src.error_at(
            Some(0),
            Some("candidate".into()),
            "a scenario needs at least one [[candidate]] chip",
            None,
        ));
    }
    if train.is_empty() && serve.is_empty() {
        return Err(src.error_at(
            Some(0),
            Some("train".into()),
            "a scenario needs a [[train]] or [[serve]] workload",
            None,
        ));
    }
    Ok(Scenario {
        id,
        name: t.opt_str("name")?.unwrap_or_default(),
        description: t.opt_str("description")?,
        country: t.opt_str("country")?.unwrap_or_else(|| "US".into()),
        date,
        currency,
        budget: t.opt_f64("budget")?,
        power_cap_kw: t.opt_f64("power-cap-kw")?,
        energy_price_per_kwh: t.opt_f64("energy-price-per-kwh")?.unwrap_or(0.7),
        pue,
        train,
        serve,
        owned,
        candidates,
        reference,
        links,
    })
}

pub fn builtin_scenario(id: &str) -> Option<Result<Scenario>> {
    BUILTIN_SCENARIOS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(i, t)| parse_scenario(&format!("<built-in scenario {i}>"), t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenarios_parse() {
        for (id, _) in BUILTIN_SCENARIOS {
            let s = builtin_scenario(id).and_then(|r| r.ok());
            assert!(s.is_some(), "{id}");
        }
        let s = builtin_scenario("baidu-2023").and_then(|r| r.ok());
        let s = s.as_ref();
        assert_eq!(s.map(|s| s.currency.as_str()), Some("CNY"));
        assert_eq!(s.and_then(|s| s.budget), Some(450e6));
        assert_eq!(s.map(|s| s.candidates.len()), Some(5));
        let r = s.and_then(|s| s.reference.as_ref());
        assert_eq!(
            r.map(|r| r.purchase.clone()),
            Some(vec![("huawei-ascend-910b2".to_string(), 1600)])
        );
    }

    /// One bad file, the field the error must name, and a phrase of its message.
    fn check(text: &str, field: &str, phrase: &str) {
        let e = match parse_scenario("s.toml", text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("s.toml:"), "{e}");
        assert!(e.contains(field), "wanted field {field}: {e}");
        assert!(e.contains(phrase), "wanted {phrase:?}: {e}");
    }

    const OK: &str =
        "date = \"2024-01-01\"\n[[serve]]\nmodel = \"m\"\nrate = 1\n[[candidate]]\nchip = \"c\"\n";

    #[test]
    fn bad_scenarios_name_the_field() {
        assert!(parse_scenario("s.toml", OK).is_ok());
        check(&OK.replace("date = \"2024-01-01\"\n", ""), "date", "");
        check(&OK.replace("2024-01-01", "2024-13-01"), "date", "");
        check(
            &format!("currency = \"EUR\"\n{OK}"),
            "currency",
            "USD and CNY",
        );
        check(&format!("pue = 0.5\n{OK}"), "pue", "between 1.0 and 3.0");
        check(&format!("budgett = 5\n{OK}"), "budgett", "unknown field");
        check(
            &OK.replace("rate = 1", "rate = -1"),
            "serve[0].rate",
            "negative",
        );
        check(
            &OK.replace("rate = 1", "rate = 0"),
            "serve[0].rate",
            "positive",
        );
        check(
            &OK.replace("rate = 1", "rate = \"fast\""),
            "serve[0].rate",
            "",
        );
        check(
            &format!("{OK}node-size = 0\n"),
            "candidate[0].node-size",
            "between 1",
        );
        check(
            &OK.replace("[[candidate]]\nchip = \"c\"\n", ""),
            "candidate",
            "at least one",
        );
        check(
            &OK.replace("[[serve]]\nmodel = \"m\"\nrate = 1\n", ""),
            "train",
            "workload",
        );
        check(
            &format!("{OK}[[train]]\nmodel = \"m\"\ntokens = 1e12\n"),
            "train[0].days",
            "",
        );
        check(
            &format!("{OK}[reference]\npurchase = {{ x = 8 }}\n"),
            "reference.purchase.x",
            "neither",
        );
        check(
            &format!("{OK}[reference]\nname = \"r\"\n"),
            "reference.purchase",
            "",
        );
    }
}
