//! Gavel's file formats (stanford-futuredata/gavel, OSDI 2020), for trace replay:
//!
//! - traces, tab-separated, one job a line, in two layouts:
//!   10 columns `job_type, command, working_directory, num_steps_arg, needs_data_dir,
//!   total_steps, scale_factor, priority_weight, SLO, arrival_time` (physical-cluster
//!   traces), or the older 7 columns `job_type, command, num_steps_arg, needs_data_dir,
//!   total_steps, arrival_time, scale_factor` (the Philly-derived msr traces);
//! - the throughput JSON `{worker_type: {"('<job type>', sf)": {"null": steps_per_s,
//!   "('<other>', sf)": [own, other]}}}`;
//! - cluster specs, `v100=8,p100=16,k80=24` or Gavel's `8:16:24` (V100:P100:K80).
//!
//! Every error names the file, the line and the field.

use crate::error::{CatalogError, Source};
use serde_json::Value;
use tessera_core::sched::{ClusterSpec, JobKey, Throughputs, TraceJob};

type Result<T> = std::result::Result<T, CatalogError>;

const COLS_10: [&str; 10] = [
    "job_type",
    "command",
    "working_directory",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "scale_factor",
    "priority_weight",
    "SLO",
    "arrival_time",
];
const COLS_7: [&str; 7] = [
    "job_type",
    "command",
    "num_steps_arg",
    "needs_data_dir",
    "total_steps",
    "arrival_time",
    "scale_factor",
];

/// Largest scale factor accepted (workers of one job).
const MAX_SCALE: u64 = 1 << 16;
/// Most accelerators of one type in a cluster spec (the simulator keeps per-node state).
pub const MAX_PER_TYPE: u32 = 1_000_000;

/// Parses a trace in either layout (decided by the first job line's column count; every
/// line must then match). Blank lines are skipped.
pub fn parse_trace(path: &str, text: &str) -> Result<Vec<TraceJob>> {
    let src = Source::new(path, text);
    let mut jobs = Vec::new();
    let mut layout: Option<&'static [&'static str]> = None;
    let mut off = 0usize;
    for (n, raw) in text.split_inclusive('\n').enumerate() {
        let at = off;
        off += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let names: &'static [&'static str] = match layout {
            Some(l) => l,
            None => {
                let l: &'static [&'static str] = match cols.len() {
                    10 => &COLS_10,
                    7 => &COLS_7,
                    k => {
                        return Err(src.error_at(
                            Some(at),
                            Some("columns".into()),
                            format!("a Gavel trace line has 10 or 7 tab-separated columns, found {k}"),
                            Some("10: job_type, command, working_directory, num_steps_arg, needs_data_dir, total_steps, scale_factor, priority_weight, SLO, arrival_time; 7: job_type, command, num_steps_arg, needs_data_dir, total_steps, arrival_time, scale_factor".into()),
                        ));
                    }
                };
                layout = Some(l);
                l
            }
        };
        if cols.len() != names.len() {
            return Err(src.error_at(
                Some(at),
                Some("columns".into()),
                format!(
                    "expected {} tab-separated columns like the first line, found {}",
                    names.len(),
                    cols.len()
                ),
                None,
            ));
        }
        let col = |name: &str| -> (usize, &str) {
            let i = names.iter().position(|c| *c == name).unwrap_or(0);
            // Byte offset of column i within the line.
            let start: usize = cols[..i].iter().map(|c| c.len() + 1).sum();
            (at + start, cols[i].trim())
        };
        let bad = |name: &str, msg: String| {
            let (pos, _) = col(name);
            src.error_at(Some(pos), Some(name.to_string()), msg, None)
        };
        let num = |name: &str| -> Result<f64> {
            let (_, v) = col(name);
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(x),
                _ => Err(bad(name, format!("`{v}` is not a finite number"))),
            }
        };
        let int = |name: &str, min: u64, max: u64| -> Result<u64> {
            let (_, v) = col(name);
            // Gavel writes some integers as floats ("1.0").
            let x: f64 = v
                .parse()
                .map_err(|_| bad(name, format!("`{v}` is not a number")))?;
            if !x.is_finite() || x.fract() != 0.0 || x < min as f64 || x > max as f64 {
                return Err(bad(
                    name,
                    format!("`{v}` must be a whole number from {min} to {max}"),
                ));
            }
            Ok(x as u64)
        };
        let (_, job_type) = col("job_type");
        if job_type.is_empty() {
            return Err(bad("job_type", "is empty".into()));
        }
        let total_steps = int("total_steps", 1, u64::MAX >> 11)?;
        let scale_factor = int("scale_factor", 1, MAX_SCALE)? as u32;
        let arrival_s = num("arrival_time")?;
        if arrival_s < 0.0 {
            return Err(bad("arrival_time", "must not be negative".into()));
        }
        let (priority_weight, slo_s) = if names.len() == 10 {
            let p = num("priority_weight")?;
            if p <= 0.0 {
                return Err(bad("priority_weight", "must be positive".into()));
            }
            let slo = num("SLO")?;
            let slo = if slo < 0.0 {
                None // Gavel writes -1 for "no SLO"
            } else if slo == 0.0 {
                return Err(bad("SLO", "must be positive, or -1 for none".into()));
            } else {
                Some(slo)
            };
            (p, slo)
        } else {
            (1.0, None)
        };
        jobs.push(TraceJob {
            job_type: job_type.to_string(),
            command: col("command").1.to_string(),
            total_steps,
            scale_factor,
            priority_weight,
            slo_s,
            arrival_s,
            line: n + 1,
        });
    }
    if jobs.is_empty() {
        return Err(src.error_at(Some(0), None, "the trace has no jobs", None));
    }
    Ok(jobs)
}

/// Byte offset of the first occurrence of a JSON string `s` (as a key or value).
fn string_offset(text: &str, s: &str) -> Option<usize> {
    let quoted = serde_json::to_string(s).ok()?;
    text.find(&quoted)
}

/// Parses `"('<job type>', <scale factor>)"`.
fn parse_job_key(k: &str) -> Option<JobKey> {
    let inner = k.trim().strip_prefix('(')?.strip_suffix(')')?;
    let comma = inner.rfind(',')?;
    let (name, sf) = (inner[..comma].trim(), inner[comma + 1..].trim());
    let name = name
        .strip_prefix('\'')
        .and_then(|n| n.strip_suffix('\''))
        .or_else(|| name.strip_prefix('"').and_then(|n| n.strip_suffix('"')))?;
    let sf: u64 = sf.parse().ok()?;
    if name.is_empty() || sf == 0 || sf > MAX_SCALE {
        return None;
    }
    Some((name.to_string(), sf as u32))
}

fn steps_per_s(v: &Value) -> Option<f64> {
    v.as_f64().filter(|x| x.is_finite() && *x >= 0.0)
}

/// Parses Gavel's throughput JSON.
pub fn parse_throughputs(path: &str, text: &str) -> Result<Throughputs> {
    let src = Source::new(path, text);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let (l, c) = (e.line(), e.column());
        // serde_json counts from 1; find the byte offset of that line and column.
        let off = text
            .split_inclusive('\n')
            .take(l.saturating_sub(1))
            .map(str::len)
            .sum::<usize>()
            + c.saturating_sub(1);
        src.error_at(
            Some(off.min(text.len())),
            None,
            format!("not valid JSON: {e}"),
            None,
        )
    })?;
    let Value::Object(workers) = root else {
        return Err(src.error_at(Some(0), None, "expected an object of worker types", None));
    };
    let mut out = Throughputs::default();
    for (worker, jobs) in &workers {
        let wpos = string_offset(text, worker);
        let Value::Object(jobs) = jobs else {
            return Err(src.error_at(
                wpos,
                Some(worker.clone()),
                "expected an object of \"('<job type>', scale factor)\" keys",
                None,
            ));
        };
        let iso = out.isolated.entry(worker.clone()).or_default();
        let pairs = out.pairs.entry(worker.clone()).or_default();
        for (key, entry) in jobs {
            let kpos = string_offset(text, key).or(wpos);
            let field = format!("{worker}.{key}");
            let job = parse_job_key(key).ok_or_else(|| {
                src.error_at(
                    kpos,
                    Some(field.clone()),
                    "expected a key like \"('ResNet-18 (batch size 64)', 1)\"",
                    None,
                )
            })?;
            let Value::Object(entry) = entry else {
                return Err(src.error_at(
                    kpos,
                    Some(field),
                    "expected an object with a \"null\" entry (steps/s alone)",
                    None,
                ));
            };
            for (other, v) in entry {
                if other == "null" {
                    let t = steps_per_s(v).ok_or_else(|| {
                        src.error_at(
                            kpos,
                            Some(format!("{field}.null")),
                            format!("expected a non-negative number of steps/s, found {v}"),
                            None,
                        )
                    })?;
                    iso.insert(job.clone(), t);
                    continue;
                }
                let ofield = format!("{field}.{other}");
                let okey = parse_job_key(other).ok_or_else(|| {
                    src.error_at(
                        kpos,
                        Some(ofield.clone()),
                        "expected \"null\" or a key like \"('LM (batch size 20)', 1)\"",
                        None,
                    )
                })?;
                let pair = match v {
                    Value::Array(a) if a.len() == 2 => steps_per_s(&a[0]).zip(steps_per_s(&a[1])),
                    _ => None,
                }
                .ok_or_else(|| {
                    src.error_at(
                        kpos,
                        Some(ofield),
                        format!("expected [own steps/s, other's steps/s], found {v}"),
                        None,
                    )
                })?;
                pairs.insert((job.clone(), okey), pair);
            }
            if !iso.contains_key(&job) {
                return Err(src.error_at(
                    kpos,
                    Some(field),
                    "lacks the \"null\" entry (steps/s alone)",
                    None,
                ));
            }
        }
    }
    Ok(out)
}

/// Gavel's measured throughput table (`simulation_throughputs.json` of
/// stanford-futuredata/gavel, MIT licence; the copy in `tests/data/gavel/` with its
/// LICENSE and README): steps/s of 26 job types by scale factor on K80, P100 and V100,
/// alone and co-located. Built into the binary for the server's what-if replays of Gavel
/// traces; parsed on each call.
pub fn builtin_throughputs() -> Result<Throughputs> {
    parse_throughputs(
        "gavel:simulation_throughputs.json",
        include_str!("../tests/data/gavel/simulation_throughputs.json"),
    )
}

/// Parses a cluster spec: `v100=8,p100=16,k80=24`, or Gavel's `8:16:24` (V100:P100:K80).
pub fn parse_cluster(spec: &str, chips_per_node: u32) -> std::result::Result<ClusterSpec, String> {
    if chips_per_node == 0 {
        return Err("chips per node must be at least 1".into());
    }
    let spec = spec.trim();
    let mut types: Vec<(String, u32)> = Vec::new();
    if spec.contains('=') {
        for part in spec.split(',') {
            let (name, n) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected TYPE=COUNT"))?;
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                return Err(format!("`{part}`: empty accelerator type"));
            }
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: `{}` is not a count", n.trim()))?;
            if types.iter().any(|(t, _)| *t == name) {
                return Err(format!("`{name}` is given twice"));
            }
            types.push((name, n));
        }
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() != 3 {
            return Err(format!(
                "`{spec}`: expected TYPE=COUNT,... or Gavel's V100:P100:K80 counts like 8:16:24"
            ));
        }
        for (name, n) in ["v100", "p100", "k80"].iter().zip(parts) {
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("`{n}` is not a count"))?;
            types.push((name.to_string(), n));
        }
    }
    if let Some((t, n)) = types.iter().find(|(_, n)| *n > MAX_PER_TYPE) {
        return Err(format!(
            "`{t}={n}`: at most {MAX_PER_TYPE} accelerators of a type"
        ));
    }
    if types.iter().all(|(_, n)| *n == 0) {
        return Err("the cluster has no accelerators".into());
    }
    Ok(ClusterSpec {
        types,
        chips_per_node,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEN: &str = "ResNet-18 (batch size 64)\tcd x && python3 main.py\t/work\t--num_steps\t1\t4000\t1\t1.0\t-1\t0\n\
LM (batch size 20)\tcd y\t/w\t--steps\t0\t12000\t2\t2\t3600\t125.5\n";
    const SEVEN: &str = "Transformer (batch size 128)\tcd t\t-step\t1\t95121\t0.000000\t1\n";

    #[test]
    fn both_layouts_parse() {
        let j = parse_trace("t.trace", TEN).unwrap();
        assert_eq!(j.len(), 2);
        assert_eq!(j[0].job_type, "ResNet-18 (batch size 64)");
        assert_eq!(
            (j[0].total_steps, j[0].scale_factor, j[0].slo_s),
            (4000, 1, None)
        );
        assert_eq!(
            (j[1].scale_factor, j[1].priority_weight, j[1].slo_s),
            (2, 2.0, Some(3600.0))
        );
        assert_eq!((j[1].arrival_s, j[1].line), (125.5, 2));
        let j = parse_trace("t.trace", SEVEN).unwrap();
        assert_eq!(
            (j[0].total_steps, j[0].scale_factor, j[0].arrival_s),
            (95121, 1, 0.0)
        );
    }

    /// A bad trace, the field its error must name, and the line.
    fn check(text: &str, field: &str, line: usize) {
        let e = parse_trace("t.trace", text).unwrap_err().to_string();
        assert!(e.contains(&format!("t.trace:{line}:")), "line {line}: {e}");
        assert!(e.contains(field), "field {field}: {e}");
    }

    #[test]
    fn bad_traces_name_line_and_field() {
        check("a\tb\tc\n", "columns", 1);
        check(&format!("{SEVEN}x\ty\n"), "columns", 2);
        check(&SEVEN.replace("95121", "lots"), "total_steps", 1);
        check(&SEVEN.replace("95121", "0"), "total_steps", 1);
        check(&SEVEN.replace("0.000000", "-5"), "arrival_time", 1);
        check(&SEVEN.replace("0.000000", "NaN"), "arrival_time", 1);
        check(&SEVEN.replace("\t1\n", "\t0\n"), "scale_factor", 1);
        check(
            &TEN.replace("\t2\t2\t3600", "\t2\t0\t3600"),
            "priority_weight",
            2,
        );
        check(&TEN.replace("\t3600\t", "\t0\t"), "SLO", 2);
        check("\n\n", "no jobs", 1);
    }

    #[test]
    fn throughputs_parse_and_errors_name_the_field() {
        let ok = r#"{"v100": {"('LM (batch size 20)', 1)": {"null": 2.5, "('LM (batch size 20)', 1)": [1.2, 1.1]}},
 "k80": {"('LM (batch size 20)', 1)": {"null": 0.5}}}"#;
        let t = parse_throughputs("t.json", ok).unwrap();
        assert_eq!(t.isolated("v100", "LM (batch size 20)", 1), Some(2.5));
        assert_eq!(t.isolated("k80", "LM (batch size 20)", 2), None);
        assert_eq!(t.pairs["v100"].len(), 1);
        let bad = |text: &str, needle: &str| {
            let e = parse_throughputs("t.json", text).unwrap_err().to_string();
            assert!(e.contains("t.json:") && e.contains(needle), "{needle}: {e}");
        };
        bad("{\"v100\": [1]}", "v100");
        bad(r#"{"v100": {"LM": {"null": 1}}}"#, "v100.LM");
        bad(r#"{"v100": {"('LM', 1)": {"null": -1}}}"#, "null");
        bad(
            r#"{"v100": {"('LM', 1)": {"null": 1, "('LM', 1)": [1]}}}"#,
            "[own steps/s",
        );
        bad(
            r#"{"v100": {"('LM', 1)": {"('LM', 1)": [1, 1]}}}"#,
            "lacks the \"null\"",
        );
        bad("{\n\"v100\": {,}}", "t.json:2:");
    }

    #[test]
    fn cluster_specs() {
        let c = parse_cluster("v100=8,p100=16,k80=24", 4).unwrap();
        assert_eq!(c.total(), 48);
        assert_eq!(c.types[1], ("p100".to_string(), 16));
        assert_eq!(parse_cluster("36:36:36", 1).unwrap().total(), 108);
        for bad in [
            "v100=x",
            "v100",
            "=3",
            "v100=1,v100=2",
            "1:2",
            "v100=0",
            "v100=4000000000",
            "1:1:1000001",
        ] {
            assert!(parse_cluster(bad, 1).is_err(), "{bad}");
        }
        assert!(parse_cluster("v100=1", 0).is_err());
    }
}
