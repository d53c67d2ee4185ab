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

/// A submitted job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobSpec {
    Batch(BatchJob),
    Train(TrainJobSpec),
}

impl JobSpec {
    pub fn name(&self) -> &str {
        match self {
            JobSpec::Batch(b) => &b.name,
            JobSpec::Train(t) => &t.name,
        }
    }

    pub fn chips(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.resources.chips,
            JobSpec::Train(t) => t.resources.chips,
        }
    }

    pub fn chip_types(&self) -> &[String] {
        match self {
            JobSpec::Batch(b) => &b.resources.chip_types,
            JobSpec::Train(t) => &t.resources.chip_types,
        }
    }

    pub fn priority(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.priority,
            JobSpec::Train(t) => t.priority,
        }
    }

    pub fn preemptible(&self) -> bool {
        match self {
            JobSpec::Batch(b) => b.preemptible,
            JobSpec::Train(t) => t.preemptible,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Batch(_) => "batch",
            JobSpec::Train(_) => "train",
        }
    }

    /// The chip types, as a mutable list (the API resolves aliases into catalog ids).
    pub fn chip_types_mut(&mut self) -> &mut Vec<String> {
        match self {
            JobSpec::Batch(b) => &mut b.resources.chip_types,
            JobSpec::Train(t) => &mut t.resources.chip_types,
        }
    }

    pub fn grace_s(&self) -> u32 {
        match self {
            JobSpec::Batch(b) => b.checkpoint_grace_s,
            JobSpec::Train(t) => t.checkpoint_grace_s,
        }
    }
}

/// A bad job document: the field at fault and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecError {
    pub field: Option<String>,
    pub message: String,
}

/// Kinds the issue defines that this server does not dispatch yet.
const NOT_YET: [&str; 1] = ["serve"];

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
    if NOT_YET.contains(&kind) {
        return Err(SpecError {
            field: Some("kind".into()),
            message: format!(
                "`{kind}` jobs are not dispatched by this server yet; size replicas with `tessera plan serve` and submit them as `batch` jobs (see docs/server.md)"
            ),
        });
    }
    if kind != "batch" && kind != "train" {
        return Err(SpecError {
            field: Some("kind".into()),
            message: format!("unknown kind `{kind}`; use batch or train"),
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
            (r#"{"kind": "serve", "name": "n"}"#, "kind"),
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
}
