//! Jobs as users submit them (a TOML file or the same document as JSON) and the states
//! they go through.

use serde::{Deserialize, Serialize};

/// A job's state. `queued` → `dispatching` → `running` → `succeeded` | `failed`;
/// `preempted` between attempts when the scheduler moves it; `cancelled` on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobState {
    Queued,
    Dispatching,
    Running,
    Preempted,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Queued,
        JobState::Dispatching,
        JobState::Running,
        JobState::Preempted,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Dispatching => "dispatching",
            JobState::Running => "running",
            JobState::Preempted => "preempted",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// What a job needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Resources {
    /// Accelerators, all of one type (a gang).
    pub chips: u32,
    /// Acceptable chip types (catalog ids or aliases); absent: any pool's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chip_types: Vec<String>,
}

/// A batch job: a script that runs on `chips` accelerators of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct BatchJob {
    pub name: String,
    /// The script body, run by bash.
    pub command: String,
    pub resources: Resources,
    /// Higher runs first (a priority tier).
    #[serde(default)]
    pub priority: u32,
    /// Whether the scheduler may stop and move it (it gets a checkpoint signal first).
    #[serde(default = "yes")]
    pub preemptible: bool,
    /// Seconds between the checkpoint signal (SIGUSR1) and the cancel.
    #[serde(default)]
    pub checkpoint_grace_s: u32,
}

fn yes() -> bool {
    true
}

/// A training job: the server plans its layout on each acceptable pool with the
/// training planner, schedules it by its predicted speed there, and runs `entrypoint`
/// with the planned layout and the framework's launch arguments filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainJobSpec {
    pub name: String,
    /// A catalog model id (a Hugging Face config is imported into a catalog file first).
    pub model: String,
    /// Tokens to train on; or `steps` (global batches).
    #[serde(default)]
    pub tokens: Option<f64>,
    #[serde(default)]
    pub steps: Option<u64>,
    #[serde(default = "default_seq")]
    pub seq_len: u32,
    /// Sequences per step; default about 4M tokens.
    #[serde(default)]
    pub global_batch: Option<u32>,
    pub resources: Resources,
    #[serde(default)]
    pub priority: u32,
    #[serde(default = "yes")]
    pub preemptible: bool,
    #[serde(default)]
    pub checkpoint_grace_s: u32,
    /// Seconds a restart from a checkpoint costs (lost from each new attempt's progress).
    #[serde(default)]
    pub checkpoint_restart_s: f64,
    /// The script to run, with `{launch}` (the framework's arguments, shell-quoted),
    /// `{framework}`, `{tp}`, `{pp}`, `{dp}`, `{cp}`, `{ep}`, `{micro_batch}`,
    /// `{global_batch}`, `{seq_len}`, `{nodes}` and `{chips_per_node}` filled in.
    pub entrypoint: String,
}

fn default_seq() -> u32 {
    4096
}

impl TrainJobSpec {
    /// The global batch in sequences.
    pub fn batch(&self) -> u32 {
        self.global_batch.unwrap_or_else(|| {
            ((4.0 * 1024.0 * 1024.0 / self.seq_len.max(1) as f64).round() as u32).max(1)
        })
    }

    /// Tokens to train on.
    pub fn total_tokens(&self) -> f64 {
        match (self.tokens, self.steps) {
            (Some(t), _) => t,
            (None, Some(s)) => s as f64 * self.batch() as f64 * self.seq_len as f64,
            (None, None) => 0.0,
        }
    }
}

/// Default interactivity limit of a serving job, seconds per output token (the same as
/// `tessera plan serve`'s).
pub const DEFAULT_TPOT_SLO_S: f64 = 0.2;

/// Most replicas one serving job may ask for.
pub const MAX_REPLICAS: u32 = 1000;

/// A serving job: the server sizes it with the serving planner over the pools it
/// accepts (the cheapest plan per output token that carries `rate` within the SLOs:
/// pool, layout, chips and replicas), then runs each replica as its own job of kind
/// `replica`, replaces a replica that fails, and scales when asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeJobSpec {
    pub name: String,
    /// A catalog model id.
    pub model: String,
    /// Requests per second to carry.
    pub rate: f64,
    pub input_len: u32,
    pub output_len: u32,
    /// Time to first token limit, seconds (none if absent).
    #[serde(default)]
    pub ttft_slo_s: Option<f64>,
    /// Time per output token limit, seconds; default [`DEFAULT_TPOT_SLO_S`].
    #[serde(default)]
    pub tpot_slo_s: Option<f64>,
    /// bf16 (default), fp8, int8, int4 or fp4.
    #[serde(default)]
    pub precision: Option<String>,
    /// Acceptable chip types (catalog ids or aliases); absent: any pool's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chip_types: Vec<String>,
    /// Replicas to run instead of the planner's count (set again by scaling).
    #[serde(default)]
    pub replicas: Option<u32>,
    #[serde(default)]
    pub priority: u32,
    /// The script of one replica, with `{launch}` (the serving engine's arguments,
    /// shell-quoted), `{framework}`, `{model}`, `{tp}`, `{pp}`, `{dp}` (attention data
    /// parallel), `{ep}`, `{chips}`, `{nodes}`, `{chips_per_node}`, `{replica}` (0-based)
    /// and `{replicas}` filled in.
    pub entrypoint: String,
}

/// One replica of a serving job, created by the server (never submitted by users):
/// where the serving plan put it and the script it runs, filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReplicaSpec {
    /// The serving job.
    pub parent: u64,
    /// 0-based; a replacement takes the index of the replica it replaces.
    pub replica: u32,
    pub name: String,
    /// The script, placeholders filled in.
    pub command: String,
    /// The plan's pool chip type and chips per replica.
    pub resources: Resources,
    #[serde(default)]
    pub priority: u32,
}

/// A submitted job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobSpec {
    Batch(BatchJob),
    Train(TrainJobSpec),
    Serve(ServeJobSpec),
    Replica(ReplicaSpec),
}

impl JobSpec {
    pub fn name(&self) -> &str {
        match self {
            JobSpec::Batch(b) => &b.name,
            JobSpec::Train(t) => &t.name,
            JobSpec::Serve(v) => &v.name,
            JobSpec::Replica(r) => &r.name,
        }
    }

    /// Accelerators of the gang (0 for a serving job: its replicas hold the chips).
    pub fn chips(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.resources.chips,
            JobSpec::Train(t) => t.resources.chips,
            JobSpec::Serve(_) => 0,
            JobSpec::Replica(r) => r.resources.chips,
        }
    }

    pub fn chip_types(&self) -> &[String] {
        match self {
            JobSpec::Batch(b) => &b.resources.chip_types,
            JobSpec::Train(t) => &t.resources.chip_types,
            JobSpec::Serve(v) => &v.chip_types,
            JobSpec::Replica(r) => &r.resources.chip_types,
        }
    }

    pub fn priority(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.priority,
            JobSpec::Train(t) => t.priority,
            JobSpec::Serve(v) => v.priority,
            JobSpec::Replica(r) => r.priority,
        }
    }

    pub fn preemptible(&self) -> bool {
        match self {
            JobSpec::Batch(b) => b.preemptible,
            JobSpec::Train(t) => t.preemptible,
            // A serving replica stays where it is: moving it drops its requests.
            JobSpec::Serve(_) | JobSpec::Replica(_) => false,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Batch(_) => "batch",
            JobSpec::Train(_) => "train",
            JobSpec::Serve(_) => "serve",
            JobSpec::Replica(_) => "replica",
        }
    }

    /// The chip types, as a mutable list (the API resolves aliases into catalog ids).
    pub fn chip_types_mut(&mut self) -> &mut Vec<String> {
        match self {
            JobSpec::Batch(b) => &mut b.resources.chip_types,
            JobSpec::Train(t) => &mut t.resources.chip_types,
            JobSpec::Serve(v) => &mut v.chip_types,
            JobSpec::Replica(r) => &mut r.resources.chip_types,
        }
    }

    pub fn grace_s(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.checkpoint_grace_s,
            JobSpec::Train(t) => t.checkpoint_grace_s,
            JobSpec::Serve(_) | JobSpec::Replica(_) => 0,
        }
    }

    /// The serving job a replica belongs to.
    pub fn parent(&self) -> Option<u64> {
        match self {
            JobSpec::Replica(r) => Some(r.parent),
            _ => None,
        }
    }
}

/// A serving precision by name.
pub fn serve_precision(p: Option<&str>) -> Option<tessera_perf::serve::ServePrecision> {
    use tessera_perf::serve::ServePrecision;
    Some(match p {
        None | Some("bf16") => ServePrecision::Bf16,
        Some("fp8") => ServePrecision::Fp8,
        Some("int8") => ServePrecision::Int8,
        Some("int4") => ServePrecision::Int4,
        Some("fp4") => ServePrecision::Fp4,
        Some(_) => return None,
    })
}

/// A bad job document: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecError {
    pub field: Option<String>,
    pub message: String,
}

/// Largest script accepted, bytes.
pub const MAX_COMMAND_BYTES: usize = 256 * 1024;

/// Parses a job from JSON; the error names the field.
pub fn parse_json(text: &str) -> Result<JobSpec, SpecError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| SpecError {
        field: None,
        message: format!("not JSON: {e}"),
    })?;
    from_value(v)
}

/// Parses a job from TOML (`tessera submit FILE`); the error names the line.
pub fn parse_toml(path: &str, text: &str) -> Result<JobSpec, SpecError> {
    let v: toml::Value = toml::from_str(text).map_err(|e| SpecError {
        field: None,
        message: format!("{path}: {e}"),
    })?;
    // JSON has no NaN or infinity: say so here, not as a missing field later.
    if let Some(key) = non_finite(&v, "") {
        return Err(SpecError {
            message: format!("{path}: `{key}` must be a finite number"),
            field: Some(key),
        });
    }
    let j = serde_json::to_value(v).map_err(|e| SpecError {
        field: None,
        message: format!("{path}: {e}"),
    })?;
    from_value(j).map_err(|e| SpecError {
        message: format!("{path}: {}", e.message),
        ..e
    })
}

/// The dotted key of the first NaN or infinite float in a TOML document, if any.
fn non_finite(v: &toml::Value, at: &str) -> Option<String> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        toml::Value::Float(f) if !f.is_finite() => Some(at.to_string()),
        toml::Value::Table(t) => t.iter().find_map(|(k, x)| non_finite(x, &join(k))),
        toml::Value::Array(a) => a.iter().find_map(|x| non_finite(x, at)),
        _ => None,
    }
}

fn from_value(v: serde_json::Value) -> Result<JobSpec, SpecError> {
    let kind = v
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| SpecError {
            field: Some("kind".into()),
            message: "missing `kind` (batch)".into(),
        })?;
    if kind == "replica" {
        return Err(SpecError {
            field: Some("kind".into()),
            message: "`replica` jobs are made by the server for serve jobs; submit a `serve` job"
                .into(),
        });
    }
    if !["batch", "train", "serve"].contains(&kind) {
        return Err(SpecError {
            field: Some("kind".into()),
            message: format!("unknown kind `{kind}`; use batch, train or serve"),
        });
    }
    let spec: JobSpec = serde_json::from_value(v).map_err(|e| {
        let m = e.to_string();
        // serde names the field in backticks for unknown and missing fields.
        let field = m.split('`').nth(1).map(str::to_string);
        SpecError { field, message: m }
    })?;
    validate(&spec)?;
    Ok(spec)
}

fn validate(s: &JobSpec) -> Result<(), SpecError> {
    let bad = |f: &str, m: String| SpecError {
        field: Some(f.into()),
        message: m,
    };
    match s {
        JobSpec::Batch(b) => {
            if b.name.trim().is_empty() || b.name.len() > 200 {
                return Err(bad("name", "must be 1 to 200 characters".into()));
            }
            if b.command.trim().is_empty() {
                return Err(bad("command", "must not be empty".into()));
            }
            if b.command.len() > MAX_COMMAND_BYTES {
                return Err(bad(
                    "command",
                    format!("at most {MAX_COMMAND_BYTES} bytes, not {}", b.command.len()),
                ));
            }
            if b.command.contains('\0') {
                return Err(bad("command", "must not contain NUL bytes".into()));
            }
            if !(1..=100_000).contains(&b.resources.chips) {
                return Err(bad(
                    "resources.chips",
                    format!("valid range 1..=100000, not {}", b.resources.chips),
                ));
            }
            if b.checkpoint_grace_s > 3600 {
                return Err(bad(
                    "checkpoint-grace-s",
                    format!("valid range 0..=3600, not {}", b.checkpoint_grace_s),
                ));
            }
            if b.priority > 1000 {
                return Err(bad(
                    "priority",
                    format!("valid range 0..=1000, not {}", b.priority),
                ));
            }
        }
        JobSpec::Train(t) => {
            if t.name.trim().is_empty() || t.name.len() > 200 {
                return Err(bad("name", "must be 1 to 200 characters".into()));
            }
            if t.model.trim().is_empty() {
                return Err(bad("model", "must name a catalog model".into()));
            }
            match (t.tokens, t.steps) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(bad("tokens", "give exactly one of tokens and steps".into()));
                }
                (Some(x), None) if !(x.is_finite() && (1.0..=1e16).contains(&x)) => {
                    return Err(bad("tokens", format!("valid range 1..=1e16, not {x}")));
                }
                (None, Some(0)) => return Err(bad("steps", "must be at least 1".into())),
                _ => {}
            }
            if !(1..=1_048_576).contains(&t.seq_len) {
                return Err(bad(
                    "seq-len",
                    format!("valid range 1..=1048576, not {}", t.seq_len),
                ));
            }
            if t.global_batch.is_some_and(|g| g == 0 || g > 1 << 24) {
                return Err(bad("global-batch", "valid range 1..=16777216".into()));
            }
            if !(1..=100_000).contains(&t.resources.chips) {
                return Err(bad(
                    "resources.chips",
                    format!("valid range 1..=100000, not {}", t.resources.chips),
                ));
            }
            if !(t.checkpoint_restart_s.is_finite()
                && (0.0..=86_400.0).contains(&t.checkpoint_restart_s))
            {
                return Err(bad("checkpoint-restart-s", "valid range 0..=86400".into()));
            }
            if t.checkpoint_grace_s > 3600 {
                return Err(bad("checkpoint-grace-s", "valid range 0..=3600".into()));
            }
            if t.priority > 1000 {
                return Err(bad("priority", "valid range 0..=1000".into()));
            }
            if t.entrypoint.trim().is_empty() || t.entrypoint.len() > MAX_COMMAND_BYTES {
                return Err(bad(
                    "entrypoint",
                    format!("must be 1 to {MAX_COMMAND_BYTES} bytes"),
                ));
            }
            if t.entrypoint.contains('\0') {
                return Err(bad("entrypoint", "must not contain NUL bytes".into()));
            }
        }
        JobSpec::Serve(v) => {
            if v.name.trim().is_empty() || v.name.len() > 200 {
                return Err(bad("name", "must be 1 to 200 characters".into()));
            }
            if v.model.trim().is_empty() {
                return Err(bad("model", "must name a catalog model".into()));
            }
            if !(v.rate.is_finite() && v.rate > 0.0 && v.rate <= 1e7) {
                return Err(bad(
                    "rate",
                    format!("valid range (0, 1e7] requests/s, not {}", v.rate),
                ));
            }
            for (f, x) in [("input-len", v.input_len), ("output-len", v.output_len)] {
                if !(1..=1_048_576).contains(&x) {
                    return Err(bad(f, format!("valid range 1..=1048576 tokens, not {x}")));
                }
            }
            for (f, x) in [("ttft-slo-s", v.ttft_slo_s), ("tpot-slo-s", v.tpot_slo_s)] {
                if let Some(x) = x
                    && !(x.is_finite() && x > 0.0 && x <= 3600.0)
                {
                    return Err(bad(f, format!("valid range (0, 3600] seconds, not {x}")));
                }
            }
            if serve_precision(v.precision.as_deref()).is_none() {
                return Err(bad(
                    "precision",
                    "use bf16, fp8, int8, int4 or fp4".to_string(),
                ));
            }
            if v.replicas.is_some_and(|r| !(1..=MAX_REPLICAS).contains(&r)) {
                return Err(bad("replicas", format!("valid range 1..={MAX_REPLICAS}")));
            }
            if v.priority > 1000 {
                return Err(bad("priority", "valid range 0..=1000".into()));
            }
            if v.entrypoint.trim().is_empty() || v.entrypoint.len() > MAX_COMMAND_BYTES {
                return Err(bad(
                    "entrypoint",
                    format!("must be 1 to {MAX_COMMAND_BYTES} bytes"),
                ));
            }
            if v.entrypoint.contains('\0') {
                return Err(bad("entrypoint", "must not contain NUL bytes".into()));
            }
        }
        JobSpec::Replica(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_jobs_parse_and_bad_ones_name_the_field() {
        let ok = r#"{"kind": "batch", "name": "n", "command": "echo", "resources": {"chips": 2, "chip-types": ["huawei-ascend-910b2"]}}"#;
        let s = parse_json(ok).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(s.chips(), 2);
        assert!(s.preemptible());
        let cases = [
            (r#"{"name": "n"}"#, "kind"),
            (r#"{"kind": "serve", "name": "n"}"#, "model"),
            (r#"{"kind": "replica", "parent": 1}"#, "kind"),
            (
                r#"{"kind": "serve", "name": "n", "model": "m", "rate": 0, "input-len": 1, "output-len": 1, "entrypoint": "x"}"#,
                "rate",
            ),
            (
                r#"{"kind": "serve", "name": "n", "model": "m", "rate": 1, "input-len": 1, "output-len": 1, "tpot-slo-s": 50, "entrypoint": "x", "precision": "fp9"}"#,
                "precision",
            ),
            (
                r#"{"kind": "serve", "name": "n", "model": "m", "rate": 1, "input-len": 1, "output-len": 1, "replicas": 0, "entrypoint": "x"}"#,
                "replicas",
            ),
            (
                r#"{"kind": "train", "name": "n", "model": "m", "resources": {"chips": 8}, "entrypoint": "x"}"#,
                "tokens",
            ),
            (r#"{"kind": "x"}"#, "kind"),
            (
                r#"{"kind": "batch", "name": "n", "command": "c", "resources": {"chips": 1}, "colour": 1}"#,
                "colour",
            ),
            (
                r#"{"kind": "batch", "name": "n", "command": "c", "resources": {"chips": 0}}"#,
                "resources.chips",
            ),
            (
                r#"{"kind": "batch", "name": "n", "resources": {"chips": 1}}"#,
                "command",
            ),
            (
                r#"{"kind": "batch", "name": "", "command": "c", "resources": {"chips": 1}}"#,
                "name",
            ),
        ];
        for (text, field) in cases {
            let e = parse_json(text).expect_err(text);
            assert_eq!(e.field.as_deref(), Some(field), "{text}: {}", e.message);
        }
        let t = "kind = \"batch\"\nname = \"n\"\ncommand = \"c\"\n[resources]\nchips = 1\nx = 2\n";
        let nan = "kind = \"train\"\nname = \"t\"\nmodel = \"m\"\ntokens = nan\nentrypoint = \"x\"\n[resources]\nchips = 8\n";
        let e = parse_toml("job.toml", nan).expect_err("NaN");
        assert_eq!(e.field.as_deref(), Some("tokens"), "{}", e.message);
        let e = parse_toml("job.toml", t).expect_err("unknown key");
        assert!(e.message.starts_with("job.toml: "), "{}", e.message);
        assert_eq!(e.field.as_deref(), Some("x"));
    }

    #[test]
    fn the_example_job_files_parse() {
        for (name, text) in [
            (
                "job.toml",
                include_str!("../../../examples/server/job.toml"),
            ),
            (
                "serve.toml",
                include_str!("../../../examples/server/serve.toml"),
            ),
        ] {
            let s = parse_toml(name, text).unwrap_or_else(|e| panic!("{name}: {}", e.message));
            assert!(!s.name().is_empty());
        }
    }
}
