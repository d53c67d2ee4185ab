//! Slurm through slurmrestd's REST API (v0.0.38, Slurm 22.05), for clusters where the
//! daemon runs no Slurm client tools: `POST /job/submit`, `GET /jobs`, `GET /nodes`,
//! `DELETE /job/{id}` (with `?signal=USR1` for the checkpoint signal). Authentication is
//! JWT (`X-SLURM-USER-NAME`, `X-SLURM-USER-TOKEN`); the token file is read again for
//! every request, so a renewed token needs no restart. Scripts, exit files and the job's
//! lock are those of the command-line engine ([`crate::slurm`]), in the same spool.
//!
//! Slurm 22.05's REST API ignores `"requeue": false` (measured: every value gave
//! `Requeue=1`), so a job Slurm requeues by itself is caught by the wrapper instead:
//! it sees `SLURM_RESTART_COUNT`, runs nothing, leaves a `.requeued` marker, and the
//! attempt is reported as ended by the engine (a new attempt is tessera's to start).
//!
//! Checked against slurmrestd 22.05.8 of `tools/slurm-local` (`SLURM_LOCAL_REST=1`).

use crate::slurm::{SlurmEngine, job_state, node_state, wrapper_script};
use crate::{Dispatch, Engine, EngineError, EngineJob, EngineState, Node, NodeState, Tag};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The API version of Slurm 22.05's slurmrestd.
pub const API: &str = "v0.0.38";

/// Where the JWT comes from.
#[derive(Debug, Clone)]
pub enum Token {
    /// A file holding the token (or `SLURM_JWT=<token>`, as `scontrol token` prints it).
    File(PathBuf),
    /// The token itself (read from an environment variable at start).
    Value(String),
}

/// A Slurm cluster reached through slurmrestd.
#[derive(Debug, Clone)]
pub struct SlurmRestEngine {
    name: String,
    /// `HOST:PORT`.
    addr: String,
    user: String,
    token: Token,
    /// The spool and its files (shared with the command-line engine).
    files: SlurmEngine,
}

impl SlurmRestEngine {
    /// `url`: `http://HOST:PORT`.
    pub fn new(
        name: &str,
        url: &str,
        user: &str,
        token: Token,
        spool: PathBuf,
    ) -> Result<Self, String> {
        let addr = crate::http::parse_url(url).map_err(|e| format!("{url}: {e}"))?;
        Ok(SlurmRestEngine {
            name: name.to_string(),
            addr,
            user: user.to_string(),
            token,
            files: SlurmEngine::new(name, None, None, spool),
        })
    }

    fn unavailable(&self, message: String) -> EngineError {
        EngineError::Unavailable {
            engine: self.name.clone(),
            message,
        }
    }

    fn token(&self) -> Result<String, EngineError> {
        match &self.token {
            Token::Value(v) => Ok(v.clone()),
            Token::File(p) => {
                let t = std::fs::read_to_string(p)
                    .map_err(|e| self.unavailable(format!("token file {}: {e}", p.display())))?;
                let t = t.trim();
                Ok(t.strip_prefix("SLURM_JWT=").unwrap_or(t).to_string())
            }
        }
    }

    /// One call; the JSON answer, or the engine's error (slurmrestd's `errors` list).
    fn call(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value, EngineError> {
        let token = self.token()?;
        let headers = [
            ("X-SLURM-USER-NAME", self.user.as_str()),
            ("X-SLURM-USER-TOKEN", token.as_str()),
            ("Content-Type", "application/json"),
        ];
        let path = format!("/slurm/{API}{path}");
        let r = crate::http::request(&self.addr, method, &path, &headers, body)
            .map_err(|e| self.unavailable(format!("{method} {path}: {e}")))?;
        let v: Value = serde_json::from_str(&r.body).map_err(|_| {
            // 401 without a token, 500 for a malformed one, a proxy's HTML: not JSON.
            let text: String = r.body.chars().take(200).collect();
            self.unavailable(format!("{method} {path}: HTTP {}: {text}", r.status))
        })?;
        let errors = errors_of(&v);
        // Slurm's own refusals of a request (a shape no node can hold, an unknown
        // partition or GRES) come with HTTP 500 too: they are the request's fault.
        if errors.iter().any(|e| rejects_request(e)) {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("{method} {path}: HTTP {}: {}", r.status, errors.join("; ")),
            });
        }
        if r.status >= 500 || r.status == 401 || r.status == 403 {
            return Err(self.unavailable(format!(
                "{method} {path}: HTTP {}: {}",
                r.status,
                errors.join("; ")
            )));
        }
        if !errors.is_empty() || r.status >= 400 {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("{method} {path}: HTTP {}: {}", r.status, errors.join("; ")),
            });
        }
        Ok(v)
    }

    fn check_id(&self, id: &str) -> Result<(), EngineError> {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("`{id}` is not a Slurm job id"),
            });
        }
        Ok(())
    }
}

/// Whether one of slurmrestd's errors says the request itself cannot be run (the same
/// refusals as sbatch's).
fn rejects_request(e: &str) -> bool {
    e.contains("Requested node configuration is not available")
        || e.contains("Invalid partition")
        || e.contains("Invalid generic resource")
        || e.contains("Invalid gres")
        || e.contains("Invalid job id")
}

/// slurmrestd's `errors`: `[{"error": "...", "error_number": N, ...}]`.
fn errors_of(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let text = e["error"]
                        .as_str()
                        .or(e["description"].as_str())
                        .unwrap_or("error");
                    match e["error_number"].as_i64().or(e["errno"].as_i64()) {
                        Some(n) => format!("{text} (error {n})"),
                        None => text.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The submit document of a dispatch: the wrapper script and the job's properties.
pub fn submit_body(d: &Dispatch, script: &str, spool: &Path, output: &Path) -> Value {
    let mut env = serde_json::Map::new();
    // v0.0.38 requires an environment (error 2127 without one); the job's own variables
    // are exported by the wrapper.
    env.insert("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into());
    let mut job = serde_json::json!({
        "name": d.tag.name(),
        "comment": d.tag.comment(),
        "partition": d.target.partition,
        "nodes": [d.nodes.max(1), d.nodes.max(1)],
        "gres": format!("{}:{}:{}", d.target.gres_name, d.target.gres_type, d.chips_per_node),
        "current_working_directory": spool.display().to_string(),
        "standard_output": output.display().to_string(),
        "standard_error": output.display().to_string(),
        "requeue": false,
        "environment": env,
    });
    if d.grace_s > 0 {
        job["signal"] = format!("B:USR1@{}", d.grace_s).into();
    }
    serde_json::json!({ "script": script, "job": job })
}

/// `GET /jobs` → engine jobs.
pub fn parse_jobs(v: &Value) -> Result<Vec<EngineJob>, String> {
    let jobs = v["jobs"].as_array().ok_or("no `jobs` list")?;
    let mut out = Vec::new();
    for j in jobs {
        let id = j["job_id"]
            .as_u64()
            .ok_or_else(|| format!("a job without a numeric job_id: {j}"))?;
        let word = j["job_state"].as_str().unwrap_or("");
        let mut state =
            job_state(word).ok_or_else(|| format!("job {id}: unknown job state `{word}`"))?;
        let reason = j["state_reason"].as_str().unwrap_or("");
        if state == EngineState::Pending
            && (reason.starts_with("JobHeld") || reason.contains("requeued held"))
        {
            state = EngineState::Held;
        }
        let name = j["name"].as_str().unwrap_or("");
        let comment = j["comment"].as_str().unwrap_or("");
        out.push(EngineJob {
            engine_id: id.to_string(),
            tag: Tag::parse(comment, name),
            state,
            detail: format!("{word} {reason}").trim().to_string(),
            partition: j["partition"].as_str().unwrap_or("").to_string(),
            nodes: j["nodes"].as_str().unwrap_or("").to_string(),
            exit_code: None,
        });
    }
    Ok(out)
}

/// `GET /nodes` → one node per (node, partition), as sinfo lists them; nodes without
/// typed GRES are skipped.
pub fn parse_nodes(v: &Value) -> Result<Vec<Node>, String> {
    let nodes = v["nodes"].as_array().ok_or("no `nodes` list")?;
    let mut out = Vec::new();
    for n in nodes {
        let name = n["name"].as_str().ok_or("a node without a name")?;
        let gres = n["gres"].as_str().unwrap_or("");
        let Some((gres_name, gres_type, chips)) = crate::slurm::gres_entry(gres) else {
            continue;
        };
        let used = crate::slurm::gres_entry(n["gres_used"].as_str().unwrap_or(""))
            .map_or(0, |(_, _, u)| u);
        let flags: Vec<&str> = n["state_flags"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let state = if flags.iter().any(|f| f.starts_with("DRAIN")) {
            NodeState::Drained
        } else if flags
            .iter()
            .any(|f| matches!(*f, "NOT_RESPONDING" | "FAIL" | "POWERED_DOWN"))
        {
            NodeState::Down
        } else {
            node_state(n["state"].as_str().unwrap_or("unknown"))
        };
        for p in n["partitions"].as_array().into_iter().flatten() {
            let Some(p) = p.as_str() else { continue };
            out.push(Node {
                name: name.to_string(),
                partition: p.to_string(),
                gres_name: gres_name.clone(),
                gres_type: gres_type.clone(),
                chips,
                chips_used: used.min(chips),
                state,
            });
        }
    }
    Ok(out)
}

impl Engine for SlurmRestEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let v = self.call("GET", "/nodes", None)?;
        parse_nodes(&v).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })
    }

    fn submit(&self, d: &Dispatch) -> Result<String, EngineError> {
        if !d.also.is_empty() {
            return Err(crate::EngineError::Rejected {
                engine: self.name().to_string(),
                message: "this engine cannot start one job across several pools".into(),
            });
        }
        let io = |path: &Path, source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some((k, _)) = d.env.iter().find(|(k, _)| !crate::slurm::valid_env_name(k)) {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("`{k}` is not a valid environment variable name"),
            });
        }
        let spool = self.files.spool_dir();
        std::fs::create_dir_all(spool).map_err(|e| io(spool, e))?;
        let files = self.files.attempt_files(d);
        std::fs::write(&files.user, &d.script).map_err(|e| io(&files.user, e))?;
        let output = self.files.spool_file(d.tag, "out");
        let body = submit_body(d, &wrapper_script(d, &files), spool, &output).to_string();
        let v = self.call("POST", "/job/submit", Some(&body))?;
        v["job_id"]
            .as_u64()
            .map(|id| id.to_string())
            .ok_or_else(|| EngineError::Protocol {
                engine: self.name.clone(),
                message: format!("job/submit answered without a job_id: {v}"),
            })
    }

    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError> {
        let v = self.call("GET", "/jobs", None)?;
        let mut jobs = parse_jobs(&v).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })?;
        for j in &mut jobs {
            self.files.settle(j);
        }
        Ok(jobs)
    }

    fn outcome(&self, tag: Tag) -> Option<i32> {
        self.files.spool_outcome(tag)
    }

    fn finished_by(&self, tag: Tag) -> Option<u32> {
        self.files.finished_by(tag)
    }

    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError> {
        self.check_id(engine_id)?;
        // Reaches the batch script (checked: a trap on USR1 in it ran).
        self.call("DELETE", &format!("/job/{engine_id}?signal=USR1"), None)
            .map(|_| ())
    }

    fn cancel(&self, engine_id: &str) -> Result<(), EngineError> {
        self.check_id(engine_id)?;
        self.call("DELETE", &format!("/job/{engine_id}"), None)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Answers of slurmrestd 22.05.8 (tools/slurm-local), trimmed to the fields read.
    const NODES: &str = r#"{"nodes": [{"name": "n-a800", "partitions": ["all", "nvidia"], "gres": "gpu:a800:8", "gres_used": "gpu:a800:3(IDX:0-2)", "state": "mixed", "state_flags": []}, {"name": "n-cpu", "partitions": ["all"], "gres": "", "gres_used": "", "state": "idle", "state_flags": []}, {"name": "n-kunlun", "partitions": ["all", "baidu"], "gres": "gpu:p800:8", "gres_used": "gpu:p800:0(IDX:N/A)", "state": "idle", "state_flags": ["DRAIN"]}, {"name": "n-ascend", "partitions": ["huawei"], "gres": "gpu:ascend910b:8", "gres_used": "gpu:ascend910b:0(IDX:N/A)", "state": "idle", "state_flags": ["NOT_RESPONDING"]}]}"#;
    const JOBS: &str = r#"{"jobs": [{"job_id": 120, "name": "tessera-7e570002-17-10", "comment": "tessera:7e570002:17:10", "job_state": "FAILED", "state_reason": "BadConstraints", "nodes": "", "partition": "nvidia", "exit_code": 1}, {"job_id": 121, "name": "x", "comment": "", "job_state": "COMPLETED", "state_reason": "None", "nodes": "n-a800", "partition": "nvidia", "exit_code": 0}, {"job_id": 44, "name": "tessera-00000001-5-2", "comment": "", "job_state": "PENDING", "state_reason": "launch failed requeued held", "nodes": "", "partition": "nvidia", "exit_code": 0}]}"#;

    #[test]
    fn reads_nodes_and_jobs() {
        let n = parse_nodes(&serde_json::from_str(NODES).unwrap()).unwrap();
        assert_eq!(
            n.len(),
            5,
            "one row per (node, partition); n-cpu has no GRES"
        );
        assert_eq!(
            (n[1].partition.as_str(), n[1].chips, n[1].chips_used),
            ("nvidia", 8, 3)
        );
        assert_eq!(n[3].state, NodeState::Drained);
        assert_eq!(n[4].state, NodeState::Down);
        let j = parse_jobs(&serde_json::from_str(JOBS).unwrap()).unwrap();
        assert_eq!(j[0].tag.map(|t| (t.job, t.attempt)), Some((17, 10)));
        assert_eq!(
            (j[0].state, j[0].detail.as_str()),
            (EngineState::Failed, "FAILED BadConstraints")
        );
        assert_eq!((j[1].tag, j[1].state), (None, EngineState::Succeeded));
        assert_eq!(
            j[2].state,
            EngineState::Held,
            "the name carries the tag too"
        );
        assert!(
            parse_jobs(&serde_json::json!({"jobs": [{"job_id": 1, "job_state": "WEIRD"}]}))
                .is_err()
        );
        assert!(parse_jobs(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn the_submit_document() {
        let d = Dispatch {
            tag: Tag {
                instance: 1,
                job: 5,
                attempt: 2,
            },
            target: crate::Target {
                partition: "huawei".into(),
                gres_type: "ascend910b".into(),
                gres_name: "gpu".into(),
                visible_devices_env: None,
            },
            nodes: 2,
            chips_per_node: 8,
            script: "x".into(),
            env: vec![],
            grace_s: 30,
            lost_attempts: vec![],
            also: Vec::new(),
        };
        let b = submit_body(&d, "#!/bin/bash\n", Path::new("/s"), Path::new("/s/o.out"));
        assert_eq!(b["job"]["gres"], "gpu:ascend910b:8");
        assert_eq!(b["job"]["nodes"], serde_json::json!([2, 2]));
        assert_eq!(b["job"]["comment"], "tessera:00000001:5:2");
        assert_eq!(b["job"]["signal"], "B:USR1@30");
        assert!(
            b["job"]["environment"]["PATH"].is_string(),
            "v0.0.38 needs one"
        );
    }

    proptest::proptest! {
        /// The readers never panic, whatever JSON slurmrestd answers.
        #[test]
        fn readers_take_any_json(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse_jobs(&v);
                let _ = parse_nodes(&v);
                let _ = errors_of(&v);
            }
        }
    }
}
