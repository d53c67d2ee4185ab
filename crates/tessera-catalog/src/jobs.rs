//! tessera's own job files for the scheduling simulator: LLM training jobs whose speed
//! on each chip type comes from the training performance model (docs/scheduler.md).
//!
//! ```toml
//! [[job]]
//! model = "llama2-7b"     # catalog id or Hugging Face config.json path
//! chips = 8               # workers, all of one chip type
//! tokens = 2e9            # tokens to train
//! arrival-s = 0           # seconds from the start (default 0)
//! weight = 1              # share within its priority tier (default 1)
//! priority = 0            # tier: higher tiers are allocated first (default 0)
//! repeat = 1              # this many copies, `every-s` seconds apart (default 1, 0 s)
//! every-s = 0
//! ```

use crate::error::Source;
use crate::tomlread::{self, Result, Tbl};
pub use tessera_core::sched::LlmJob;

/// Most jobs one file may expand to (with `repeat`).
pub const MAX_JOBS: usize = 1_000_000;

pub fn parse_jobs(path: &str, text: &str) -> Result<Vec<LlmJob>> {
    let src = Source::new(path, text);
    let doc = tomlread::parse(src)?;
    let root = doc.get_ref();
    let t = Tbl::new(src, root, 0, "");
    t.deny_unknown(&["job"])?;
    let mut out = Vec::new();
    for (ctx, jt, at) in tomlread::named_tables(src, root, "job")? {
        let w = Tbl::new(src, jt, at, &ctx);
        w.deny_unknown(&[
            "model",
            "chips",
            "tokens",
            "arrival-s",
            "weight",
            "priority",
            "repeat",
            "every-s",
        ])?;
        let model = w.req_str("model")?;
        let chips = w.req_u64("chips")?;
        if chips == 0 || chips > 1 << 20 {
            return Err(w.err(
                "chips",
                w.pos("chips"),
                "must be between 1 and 1,048,576",
                None,
            ));
        }
        let tokens = w
            .opt_f64("tokens")?
            .ok_or_else(|| w.missing("tokens", None))?;
        if !(tokens > 0.0 && tokens.is_finite()) {
            return Err(w.err("tokens", w.pos("tokens"), "must be positive", None));
        }
        let arrival = w.opt_f64("arrival-s")?.unwrap_or(0.0);
        if !(arrival >= 0.0 && arrival.is_finite()) {
            return Err(w.err("arrival-s", w.pos("arrival-s"), "must be at least 0", None));
        }
        let weight = w.opt_f64("weight")?.unwrap_or(1.0);
        if !(weight > 0.0 && weight.is_finite()) {
            return Err(w.err("weight", w.pos("weight"), "must be positive", None));
        }
        let priority = w.opt_u64("priority")?.unwrap_or(0);
        if priority > 1000 {
            return Err(w.err(
                "priority",
                w.pos("priority"),
                "must be between 0 and 1000",
                None,
            ));
        }
        let repeat = w.opt_u64("repeat")?.unwrap_or(1);
        let every = w.opt_f64("every-s")?.unwrap_or(0.0);
        if !(every >= 0.0 && every.is_finite()) {
            return Err(w.err("every-s", w.pos("every-s"), "must be at least 0", None));
        }
        if repeat == 0 || out.len() as u64 + repeat > MAX_JOBS as u64 {
            return Err(w.err(
                "repeat",
                w.pos("repeat"),
                format!("must be at least 1, and a file holds at most {MAX_JOBS} jobs"),
                None,
            ));
        }
        let line = crate::error::line_col(text, at).0;
        for k in 0..repeat {
            out.push(LlmJob {
                model: model.clone(),
                chips: chips as u32,
                tokens,
                arrival_s: arrival + every * k as f64,
                weight,
                priority: priority as u32,
                line,
            });
        }
    }
    if out.is_empty() {
        return Err(src.error_at(Some(0), Some("job".into()), "the file has no [[job]]", None));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "[[job]]\nmodel = \"llama2-7b\"\nchips = 8\ntokens = 2e9\n\n[[job]]\nmodel = \"llama2-13b\"\nchips = 16\ntokens = 1e9\narrival-s = 60\nrepeat = 3\nevery-s = 100\n";

    #[test]
    fn parses_and_repeats() {
        let j = parse_jobs("j.toml", OK).unwrap();
        assert_eq!(j.len(), 4);
        assert_eq!((j[0].chips, j[0].line), (8, 1));
        assert_eq!(j[3].arrival_s, 260.0);
        assert_eq!(j[3].line, 6);
        assert_eq!(j[0].priority, 0);
        let p = parse_jobs(
            "j.toml",
            &OK.replace("chips = 8", "chips = 8\npriority = 2"),
        )
        .unwrap();
        assert_eq!(p[0].priority, 2);
    }

    #[test]
    fn bad_files_name_line_and_field() {
        let check = |text: &str, needle: &str| {
            let e = parse_jobs("j.toml", text).unwrap_err().to_string();
            assert!(e.contains("j.toml:") && e.contains(needle), "{needle}: {e}");
        };
        check(&OK.replace("chips = 8", "chips = 0"), "job[0].chips");
        check(&OK.replace("tokens = 2e9", "tokens = -1"), "job[0].tokens");
        check(
            &OK.replace("arrival-s = 60", "arrival-s = -5"),
            "job[1].arrival-s",
        );
        check(&OK.replace("repeat = 3", "repeat = 0"), "job[1].repeat");
        check(
            &OK.replace("repeat = 3", "repeat = 3\npriority = 5000"),
            "job[1].priority",
        );
        check(
            &OK.replace("repeat = 3", "repeat = 3\npriority = -1"),
            "job[1].priority",
        );
        check(&OK.replace("every-s = 100", "evry-s = 100"), "evry-s");
        check("", "no [[job]]");
        check("[[job]]\nchips = 1\ntokens = 1\n", "model");
    }
}
