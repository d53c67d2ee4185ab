//! Ray through its Jobs REST API (the dashboard's `/api/jobs/`, checked against Ray
//! 2.60): submit, status, logs, stop, delete; capacity from the State API's
//! `/api/v0/nodes`.
//!
//! A dispatch becomes one Ray job whose driver runs tessera's wrapper (the same job
//! lock, exit file and lost-attempt check as on Slurm) from the spool, which must be a
//! path every Ray node sees. The submission id is tessera's tag name
//! (`tessera-<instance>-<job>-<attempt>`) and the job's metadata carries the tag, the
//! resource, the chips, the node and the device indices. The engine picks the node
//! itself (one with room by its own count of tessera's live jobs) and pins the driver
//! there with Ray's `node:<ip>` resource:
//! - `GPU` (Nvidia): `entrypoint_num_gpus`; Ray sets `CUDA_VISIBLE_DEVICES`.
//! - `NPU` (Ascend): Ray's own Ascend manager; it sets `ASCEND_RT_VISIBLE_DEVICES`.
//! - any other resource (Kunlun's `P800`, which Ray has no manager for): a counter in
//!   `entrypoint_resources`; tessera chooses free device indices on the node and sets
//!   the chip's variable (`XPU_VISIBLE_DEVICES`) itself.
//!
//! What Ray does that tessera works around (measured on Ray 2.60.0):
//! - A duplicate submission id is answered with HTTP 500 and a text/plain Python
//!   traceback ("Job with submission_id ... already exists"): the attempt is already
//!   there, so the submit succeeds with that id.
//! - `POST /api/jobs/{id}/stop` on a job still PENDING (waiting for resources) answers
//!   `{"stopped": true}` while the job stays PENDING: tessera leaves a `.stopped` marker
//!   in the spool, reports the job as cancelled from then on, and the wrapper runs
//!   nothing if Ray ever starts it.
//! - The Jobs API has no signal: the checkpoint signal is a `.checkpoint` marker in the
//!   spool that the wrapper turns into SIGUSR1 for the job's script within a second.
//! - A job deleted within about a second of its end comes back: its dying supervisor
//!   writes a FAILED record ("Job supervisor actor died", entrypoint "Entrypoint not
//!   found.") after the delete. So [`Engine::forget`] deletes a job only once this
//!   engine has seen it ended for [`FORGET_AFTER`].
//! - A Ray job is one driver process: a gang of several nodes is refused with a reason
//!   (on Ray, multi-node work is the driver's own placement group).

use crate::slurm::{AttemptFiles, SlurmEngine, shell_quote, valid_env_name, wrapper_with};
use crate::{Dispatch, Engine, EngineError, EngineJob, EngineState, Node, NodeState, Tag};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a job must have been seen ended before [`Engine::forget`] deletes it.
pub const FORGET_AFTER: Duration = Duration::from_secs(10);

/// Resources Ray itself creates on every node; not accelerators.
fn is_accelerator_resource(k: &str) -> bool {
    !(k == "CPU"
        || k == "memory"
        || k == "object_store_memory"
        || k == "objectStoreMemory"
        || k.starts_with("node:")
        || k.starts_with("accelerator_type:")
        || k.contains("__"))
}

/// A Ray cluster reached through its dashboard's HTTP API.
#[derive(Debug, Clone)]
pub struct RayEngine {
    name: String,
    /// `HOST:PORT` of the dashboard (Jobs API).
    addr: String,
    /// The spool and its files (those of the Slurm engine: one layout for all).
    files: SlurmEngine,
    /// When this engine first saw each job ended (submission id).
    ended_at: Arc<Mutex<HashMap<String, Instant>>>,
}

/// One Ray node as the State API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RayNode {
    pub id: String,
    pub ip: String,
    pub alive: bool,
    /// Accelerator resources and their totals.
    pub resources: Vec<(String, u32)>,
}

/// One Ray job as the Jobs API lists it, with what tessera put in its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RayJob {
    pub submission_id: String,
    pub status: String,
    pub message: String,
    pub error_type: String,
    pub driver_exit_code: Option<i32>,
    pub driver_node_id: String,
    pub tag: Option<Tag>,
    pub resource: Option<String>,
    pub chips: u32,
    pub node_ip: Option<String>,
    pub devices: Vec<u32>,
}

impl RayJob {
    fn active(&self) -> bool {
        matches!(self.status.as_str(), "PENDING" | "RUNNING")
    }
}

/// Reads the State API's node list (`GET /api/v0/nodes?detail=1`).
pub fn parse_nodes(v: &Value) -> Result<Vec<RayNode>, String> {
    let list = v
        .pointer("/data/result/result")
        .and_then(Value::as_array)
        .ok_or("no data.result.result array")?;
    let mut out = Vec::new();
    for n in list {
        let s = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut resources: Vec<(String, u32)> = n
            .get("resources_total")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| is_accelerator_resource(k))
                    .filter_map(|(k, v)| {
                        let c = v.as_f64()?;
                        (c.is_finite() && c >= 1.0 && c <= u32::MAX as f64)
                            .then(|| (k.clone(), c.floor() as u32))
                    })
                    .collect()
            })
            .unwrap_or_default();
        resources.sort();
        out.push(RayNode {
            id: s("node_id"),
            ip: s("node_ip"),
            alive: s("state") == "ALIVE",
            resources,
        });
    }
    Ok(out)
}

/// Reads the Jobs API's job list (`GET /api/jobs/`).
pub fn parse_jobs(v: &Value) -> Result<Vec<RayJob>, String> {
    let list = v.as_array().ok_or("the job list is not an array")?;
    Ok(list.iter().map(parse_job).collect())
}

fn parse_job(j: &Value) -> RayJob {
    let s = |k: &str| j.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let meta = |k: &str| j.pointer(&format!("/metadata/{k}")).and_then(Value::as_str);
    let submission_id = s("submission_id");
    RayJob {
        tag: Tag::parse(meta("tessera").unwrap_or(""), &submission_id),
        status: s("status"),
        message: s("message"),
        error_type: s("error_type"),
        driver_exit_code: j
            .get("driver_exit_code")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok()),
        driver_node_id: s("driver_node_id"),
        resource: meta("tessera_resource").map(str::to_string),
        chips: meta("tessera_chips")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        node_ip: meta("tessera_node").map(str::to_string),
        devices: meta("tessera_devices")
            .map(|d| d.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            .unwrap_or_default(),
        submission_id,
    }
}

/// Ray's job status in tessera's terms. A job whose supervisor died with its node, or
/// that Ray could not place, ended by the engine's doing.
pub fn job_state(status: &str, error_type: &str) -> Option<EngineState> {
    Some(match status {
        "PENDING" => EngineState::Pending,
        "RUNNING" => EngineState::Running,
        "SUCCEEDED" => EngineState::Succeeded,
        "STOPPED" => EngineState::Cancelled,
        "FAILED" => match error_type {
            "JOB_SUPERVISOR_ACTOR_DIED"
            | "JOB_SUPERVISOR_ACTOR_UNSCHEDULABLE"
            | "JOB_SUPERVISOR_ACTOR_START_TIMEOUT"
            | "JOB_SUPERVISOR_ACTOR_START_FAILURE" => EngineState::NodeFailed,
            _ => EngineState::Failed,
        },
        _ => return None,
    })
}

/// The lowest `n` device indices below `total` that no live job on the node holds.
fn free_devices(total: u32, used: &BTreeSet<u32>, n: u32) -> Option<Vec<u32>> {
    let v: Vec<u32> = (0..total)
        .filter(|i| !used.contains(i))
        .take(n as usize)
        .collect();
    (v.len() == n as usize).then_some(v)
}

impl RayEngine {
    /// `url`: the dashboard's `http://HOST:PORT` (8265 by default).
    pub fn new(name: &str, url: &str, spool: PathBuf) -> Result<Self, String> {
        let addr = crate::http::parse_url(url).map_err(|e| format!("{url}: {e}"))?;
        let spool = std::path::absolute(&spool).unwrap_or(spool);
        Ok(RayEngine {
            name: name.to_string(),
            addr,
            files: SlurmEngine::new(name, None, None, spool),
            ended_at: Arc::default(),
        })
    }

    fn ended(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.ended_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unavailable(&self, message: String) -> EngineError {
        EngineError::Unavailable {
            engine: self.name.clone(),
            message,
        }
    }

    fn rejected(&self, message: String) -> EngineError {
        EngineError::Rejected {
            engine: self.name.clone(),
            message,
        }
    }

    /// One call: status and body, or the engine unreachable.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<crate::http::Response, EngineError> {
        crate::http::request(&self.addr, method, path, &[], body)
            .map_err(|e| self.unavailable(format!("{method} {path}: {e}")))
    }

    /// A call whose answer must be JSON with a 2xx status.
    fn json(&self, method: &str, path: &str, body: Option<&str>) -> Result<Value, EngineError> {
        let r = self.call(method, path, body)?;
        let text: String = r.body.chars().take(300).collect();
        if r.status >= 500 {
            return Err(self.unavailable(format!("{method} {path}: HTTP {}: {text}", r.status)));
        }
        if r.status >= 400 {
            return Err(self.rejected(format!("{method} {path}: HTTP {}: {text}", r.status)));
        }
        serde_json::from_str(&r.body).map_err(|e| EngineError::Protocol {
            engine: self.name.clone(),
            message: format!("{method} {path}: not JSON ({e}): {text}"),
        })
    }

    /// Every node, with its accelerator resources.
    pub fn ray_nodes(&self) -> Result<Vec<RayNode>, EngineError> {
        let v = self.json("GET", "/api/v0/nodes?detail=1&limit=10000", None)?;
        parse_nodes(&v).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })
    }

    /// Every job Ray keeps.
    pub fn ray_jobs(&self) -> Result<Vec<RayJob>, EngineError> {
        let v = self.json("GET", "/api/jobs/", None)?;
        parse_jobs(&v).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })
    }

    /// The driver's output (stdout and stderr) as Ray keeps it.
    pub fn logs(&self, engine_id: &str) -> Result<String, EngineError> {
        check_id(self, engine_id)?;
        let v = self.json("GET", &format!("/api/jobs/{engine_id}/logs"), None)?;
        Ok(v.get("logs")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string())
    }

    fn marker(&self, engine_id: &str, ext: &str) -> Option<PathBuf> {
        let tag = Tag::parse("", engine_id)?;
        Some(self.files.spool_file(tag, ext))
    }

    fn stopped(&self, j: &RayJob) -> bool {
        j.tag
            .is_some_and(|t| self.files.spool_file(t, "stopped").exists())
    }

    /// Chips of each resource held on each node by tessera's live jobs, and the device
    /// indices they were given: (node ip, resource) -> (chips, indices).
    fn usage(
        &self,
        nodes: &[RayNode],
        jobs: &[RayJob],
    ) -> std::collections::BTreeMap<(String, String), (u32, BTreeSet<u32>)> {
        let mut m: std::collections::BTreeMap<(String, String), (u32, BTreeSet<u32>)> =
            Default::default();
        for j in jobs.iter().filter(|j| j.active() && !self.stopped(j)) {
            let (Some(r), Some(ip)) = (
                &j.resource,
                j.node_ip.clone().or_else(|| {
                    nodes
                        .iter()
                        .find(|n| n.id == j.driver_node_id)
                        .map(|n| n.ip.clone())
                }),
            ) else {
                continue;
            };
            let e = m.entry((ip, r.clone())).or_default();
            e.0 += j.chips;
            e.1.extend(j.devices.iter().copied());
        }
        m
    }
}

fn check_id(e: &RayEngine, id: &str) -> Result<(), EngineError> {
    if id.is_empty()
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(e.rejected(format!("`{id}` is not a Ray submission id")));
    }
    Ok(())
}

/// The lines that run the job's script under Ray: in the background, with a watcher
/// that turns the checkpoint marker into SIGUSR1 for it.
fn ray_run(f: &AttemptFiles, checkpoint: &Path) -> String {
    let user = shell_quote(&f.user.display().to_string());
    let ck = shell_quote(&checkpoint.display().to_string());
    format!(
        "bash {user} 9>&- &\nchild=$!\n\
         ( while kill -0 \"$child\" 2>/dev/null; do\n    \
         if [ -e {ck} ]; then rm -f {ck}; kill -USR1 \"$child\" 2>/dev/null; fi\n    \
         sleep 1\n  done ) 9>&- &\n\
         while :; do wait \"$child\"; rc=$?; kill -0 \"$child\" 2>/dev/null || break; done\n"
    )
}

/// The JSON body of `POST /api/jobs/` for a dispatch placed on `node_ip`, with device
/// indices chosen by tessera for a resource Ray has no manager for.
pub fn submit_body(d: &Dispatch, wrapper: &Path, node_ip: &str, devices: Option<&[u32]>) -> Value {
    let resource = d.target.gres_type.as_str();
    let chips = d.chips_per_node;
    let mut resources = serde_json::Map::new();
    // A sliver of the node's own resource pins the driver to the node tessera chose.
    resources.insert(format!("node:{node_ip}"), json!(0.001));
    let mut body = json!({
        "entrypoint": format!("bash {}", shell_quote(&wrapper.display().to_string())),
        "submission_id": d.tag.name(),
        "entrypoint_num_cpus": 0,
        "metadata": {
            "tessera": d.tag.comment(),
            "tessera_resource": resource,
            "tessera_chips": chips.to_string(),
            "tessera_node": node_ip,
        },
    });
    if resource == "GPU" {
        body["entrypoint_num_gpus"] = json!(chips);
    } else {
        resources.insert(resource.to_string(), json!(chips));
    }
    body["entrypoint_resources"] = Value::Object(resources);
    if let Some(dv) = devices {
        let list: Vec<String> = dv.iter().map(u32::to_string).collect();
        body["metadata"]["tessera_devices"] = json!(list.join(","));
    }
    body
}

impl Engine for RayEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let nodes = self.ray_nodes()?;
        let jobs = self.ray_jobs()?;
        let used = self.usage(&nodes, &jobs);
        let mut out = Vec::new();
        for n in &nodes {
            for (r, total) in &n.resources {
                let u = used
                    .get(&(n.ip.clone(), r.clone()))
                    .map_or(0, |x| x.0)
                    .min(*total);
                out.push(Node {
                    name: n.ip.clone(),
                    partition: String::new(),
                    gres_name: "ray".into(),
                    gres_type: r.clone(),
                    chips: *total,
                    chips_used: u,
                    state: if n.alive {
                        NodeState::Up
                    } else {
                        NodeState::Down
                    },
                });
            }
        }
        Ok(out)
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
        if d.nodes > 1 {
            return Err(self.rejected(format!(
                "a Ray job is one driver on one node; this gang needs {} nodes of {} chips (run it on a Slurm or Kubernetes pool, or as a driver that builds its own placement group)",
                d.nodes, d.chips_per_node
            )));
        }
        let mut env = d.env.clone();
        if let Some((k, _)) = env.iter().find(|(k, _)| !valid_env_name(k)) {
            return Err(self.rejected(format!("`{k}` is not a valid environment variable name")));
        }
        let resource = d.target.gres_type.clone();
        let nodes = self.ray_nodes()?;
        let jobs = self.ray_jobs()?;
        // The same attempt already submitted (a crash between Ray's answer and the
        // store's record): it is the attempt.
        if jobs.iter().any(|j| j.submission_id == d.tag.name()) {
            return Ok(d.tag.name());
        }
        let used = self.usage(&nodes, &jobs);
        let managed = resource == "GPU" || resource == "NPU";
        let mut choice = None;
        for n in nodes.iter().filter(|n| n.alive) {
            let Some(&(_, total)) = n.resources.iter().find(|(r, _)| *r == resource) else {
                continue;
            };
            let (u, idx) = used
                .get(&(n.ip.clone(), resource.clone()))
                .cloned()
                .unwrap_or_default();
            if total.saturating_sub(u) < d.chips_per_node {
                continue;
            }
            let devices = if managed {
                None
            } else {
                match free_devices(total, &idx, d.chips_per_node) {
                    Some(v) => Some(v),
                    None => continue,
                }
            };
            choice = Some((n.ip.clone(), devices));
            break;
        }
        let Some((ip, devices)) = choice else {
            // Capacity moved since the round placed the job: try again later.
            return Err(self.unavailable(format!(
                "no live node has {} free `{resource}` now",
                d.chips_per_node
            )));
        };
        if let (Some(dv), Some(var)) = (&devices, &d.target.visible_devices_env) {
            let list: Vec<String> = dv.iter().map(u32::to_string).collect();
            env.push((var.clone(), list.join(",")));
        }
        let spool = self.files.spool_dir().to_path_buf();
        std::fs::create_dir_all(&spool).map_err(|e| io(&spool, e))?;
        let files = self.files.attempt_files(d);
        let checkpoint = self.files.spool_file(d.tag, "checkpoint");
        let stopped = self.files.spool_file(d.tag, "stopped");
        let wrapper = self.files.spool_file(d.tag, "ray.sh");
        let preamble = format!(
            "if [ -e {s} ]; then\n  echo \"tessera: this attempt was stopped before Ray started it; not running it\" >&2\n  exit 143\nfi\n",
            s = shell_quote(&stopped.display().to_string())
        );
        let with_env = Dispatch { env, ..d.clone() };
        std::fs::write(&files.user, &d.script).map_err(|e| io(&files.user, e))?;
        std::fs::write(
            &wrapper,
            wrapper_with(&with_env, &files, &preamble, &ray_run(&files, &checkpoint)),
        )
        .map_err(|e| io(&wrapper, e))?;
        let body = submit_body(d, &wrapper, &ip, devices.as_deref()).to_string();
        let r = self.call("POST", "/api/jobs/", Some(&body))?;
        if r.status == 500 && r.body.contains("already exists") {
            return Ok(d.tag.name());
        }
        let text: String = r.body.chars().take(300).collect();
        if r.status >= 500 {
            return Err(self.unavailable(format!("POST /api/jobs/: HTTP {}: {text}", r.status)));
        }
        if r.status >= 400 {
            return Err(self.rejected(format!("POST /api/jobs/: HTTP {}: {text}", r.status)));
        }
        let v: Value = serde_json::from_str(&r.body).map_err(|e| EngineError::Protocol {
            engine: self.name.clone(),
            message: format!("POST /api/jobs/: not JSON ({e}): {text}"),
        })?;
        v.get("submission_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| EngineError::Protocol {
                engine: self.name.clone(),
                message: format!("POST /api/jobs/ answered without a submission_id: {text}"),
            })
    }

    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError> {
        let jobs = self.ray_jobs()?;
        let mut out = Vec::new();
        for j in &jobs {
            let Some(mut state) = job_state(&j.status, &j.error_type) else {
                return Err(EngineError::Protocol {
                    engine: self.name.clone(),
                    message: format!("job {}: unknown status `{}`", j.submission_id, j.status),
                });
            };
            let mut detail = if j.message.is_empty() {
                j.status.clone()
            } else {
                format!("{}: {}", j.status, j.message)
            };
            if !state.is_terminal() && self.stopped(j) {
                state = EngineState::Cancelled;
                detail = format!("{detail} (stopped by tessera while Ray still lists it)");
            }
            let exit_code = match (state, j.tag) {
                (s, Some(t)) if s.is_terminal() => self.files.exit_code(t).or(j.driver_exit_code),
                _ => None,
            };
            if state.is_terminal() {
                self.ended()
                    .entry(j.submission_id.clone())
                    .or_insert_with(Instant::now);
            }
            out.push(EngineJob {
                engine_id: j.submission_id.clone(),
                tag: j.tag,
                state,
                detail,
                partition: String::new(),
                nodes: j
                    .node_ip
                    .clone()
                    .unwrap_or_else(|| j.driver_node_id.clone()),
                exit_code,
            });
        }
        Ok(out)
    }

    fn outcome(&self, tag: Tag) -> Option<i32> {
        if self.files.spool_file(tag, "stopped").exists() {
            return None;
        }
        self.files.exit_code(tag)
    }

    fn finished_by(&self, tag: Tag) -> Option<u32> {
        self.files.finished_by(tag)
    }

    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError> {
        check_id(self, engine_id)?;
        let Some(p) = self.marker(engine_id, "checkpoint") else {
            return Err(self.rejected(format!("`{engine_id}` is not a tessera job")));
        };
        std::fs::write(&p, b"").map_err(|source| EngineError::Io { path: p, source })
    }

    fn cancel(&self, engine_id: &str) -> Result<(), EngineError> {
        check_id(self, engine_id)?;
        let r = self.call("POST", &format!("/api/jobs/{engine_id}/stop"), None)?;
        if r.status == 404 {
            return Err(self.rejected(format!("Ray does not know job {engine_id}")));
        }
        if r.status >= 400 {
            let text: String = r.body.chars().take(300).collect();
            return Err(self.unavailable(format!(
                "POST /api/jobs/{engine_id}/stop: HTTP {}: {text}",
                r.status
            )));
        }
        // A job still waiting for resources stays PENDING after a stop: mark it, so that
        // it counts as cancelled and runs nothing if it ever starts.
        let st = self.json("GET", &format!("/api/jobs/{engine_id}"), None)?;
        if st.get("status").and_then(Value::as_str) == Some("PENDING")
            && let Some(p) = self.marker(engine_id, "stopped")
        {
            std::fs::write(&p, b"").map_err(|source| EngineError::Io { path: p, source })?;
        }
        Ok(())
    }

    fn forget(&self, engine_id: &str) -> Result<(), EngineError> {
        check_id(self, engine_id)?;
        {
            let mut seen = self.ended();
            let first = *seen
                .entry(engine_id.to_string())
                .or_insert_with(Instant::now);
            if first.elapsed() < FORGET_AFTER {
                return Ok(()); // later: a delete now would come back as FAILED
            }
        }
        let r = self.call("DELETE", &format!("/api/jobs/{engine_id}"), None)?;
        match r.status {
            200..=299 | 404 => {
                self.ended().remove(engine_id);
                Ok(())
            }
            // Ray refuses to delete a job that is not terminal (HTTP 500, a traceback):
            // one tessera stopped while it was PENDING. It is left for the operator.
            s => Err(self.rejected(format!(
                "DELETE /api/jobs/{engine_id}: HTTP {s}: {}",
                r.body.chars().take(200).collect::<String>()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatch(resource: &str) -> Dispatch {
        Dispatch {
            tag: Tag {
                instance: 0xab,
                job: 7,
                attempt: 2,
            },
            target: crate::Target {
                partition: String::new(),
                gres_type: resource.into(),
                gres_name: "ray".into(),
                visible_devices_env: Some("XPU_VISIBLE_DEVICES".into()),
            },
            nodes: 1,
            chips_per_node: 2,
            script: "echo hi".into(),
            env: vec![],
            grace_s: 0,
            lost_attempts: vec![],
            also: Vec::new(),
        }
    }

    #[test]
    fn the_submit_document_per_vendor() {
        let w = Path::new("/spool/x.ray.sh");
        let g = submit_body(&dispatch("GPU"), w, "10.0.0.5", None);
        assert_eq!(g["submission_id"], "tessera-000000ab-7-2");
        assert_eq!(g["entrypoint_num_gpus"], 2);
        assert_eq!(g["entrypoint_resources"]["node:10.0.0.5"], 0.001);
        assert!(g["entrypoint_resources"].get("GPU").is_none());
        assert_eq!(g["metadata"]["tessera"], "tessera:000000ab:7:2");
        assert_eq!(g["entrypoint"], "bash '/spool/x.ray.sh'");
        let n = submit_body(&dispatch("NPU"), w, "10.0.0.5", None);
        assert_eq!(n["entrypoint_resources"]["NPU"], 2);
        assert!(n.get("entrypoint_num_gpus").is_none());
        let k = submit_body(&dispatch("P800"), w, "10.0.0.5", Some(&[3, 4]));
        assert_eq!(k["entrypoint_resources"]["P800"], 2);
        assert_eq!(k["metadata"]["tessera_devices"], "3,4");
        // Ray's metadata values must be strings.
        for (_, v) in k["metadata"].as_object().unwrap() {
            assert!(v.is_string(), "{v}");
        }
    }

    #[test]
    fn reads_nodes_and_jobs() {
        let nodes: Value = serde_json::from_str(
            r#"{"result": true, "data": {"result": {"result": [
              {"node_id": "n1", "node_ip": "127.0.0.1", "state": "ALIVE",
               "resources_total": {"node:127.0.0.1": 1.0, "CPU": 4.0, "NPU": 8.0, "P800": 8.0,
                 "GPU": 8.0, "memory": 1.7e10, "object_store_memory": 7.3e9,
                 "node:__internal_head__": 1.0, "accelerator_type:A800": 1.0}},
              {"node_id": "n2", "node_ip": "10.0.0.2", "state": "DEAD", "resources_total": {"NPU": 16}}
            ]}}}"#,
        )
        .unwrap();
        let n = parse_nodes(&nodes).unwrap();
        assert_eq!(
            n[0].resources,
            vec![("GPU".into(), 8), ("NPU".into(), 8), ("P800".into(), 8)]
        );
        assert!(n[0].alive && !n[1].alive);
        let jobs: Value = serde_json::from_str(
            r#"[{"submission_id": "tessera-000000ab-7-2", "status": "RUNNING", "message": "m",
                 "metadata": {"tessera": "tessera:000000ab:7:2", "tessera_resource": "P800",
                   "tessera_chips": "2", "tessera_node": "127.0.0.1", "tessera_devices": "0,1"},
                 "driver_node_id": "n1", "driver_exit_code": null},
                {"submission_id": "raysubmit_x", "status": "FAILED", "error_type": "JOB_SUPERVISOR_ACTOR_DIED",
                 "metadata": null}]"#,
        )
        .unwrap();
        let j = parse_jobs(&jobs).unwrap();
        assert_eq!(
            j[0].tag,
            Some(Tag {
                instance: 0xab,
                job: 7,
                attempt: 2
            })
        );
        assert_eq!((j[0].chips, j[0].devices.clone()), (2, vec![0, 1]));
        assert_eq!(j[1].tag, None);
        assert_eq!(
            job_state(&j[1].status, &j[1].error_type),
            Some(EngineState::NodeFailed)
        );
        assert_eq!(job_state("STOPPED", ""), Some(EngineState::Cancelled));
        assert_eq!(
            job_state("FAILED", "JOB_ENTRYPOINT_COMMAND_ERROR"),
            Some(EngineState::Failed)
        );
        assert_eq!(job_state("WHAT", ""), None);
        let e = RayEngine::new("ray", "http://127.0.0.1:1", "/tmp/x".into()).unwrap();
        let u = e.usage(&n, &j);
        assert_eq!(
            u.get(&("127.0.0.1".to_string(), "P800".to_string())),
            Some(&(2, BTreeSet::from([0, 1])))
        );
    }

    #[test]
    fn device_indices_skip_the_ones_in_use() {
        assert_eq!(
            free_devices(8, &BTreeSet::from([0, 1, 3]), 3),
            Some(vec![2, 4, 5])
        );
        assert_eq!(free_devices(4, &BTreeSet::from([0, 1, 3]), 2), None);
        assert_eq!(free_devices(2, &BTreeSet::new(), 2), Some(vec![0, 1]));
    }

    /// The wrapper under Ray: the checkpoint marker reaches the job's script as SIGUSR1
    /// and the stopped marker keeps a late start from running anything.
    #[test]
    fn the_ray_wrapper_signals_and_stops() {
        let dir = std::env::temp_dir().join(format!("tessera-ray-wrapper-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = SlurmEngine::new("ray", None, None, dir.clone());
        let mut d = dispatch("P800");
        let seen = dir.join("seen");
        d.script = format!(
            "trap 'echo usr1 > {}; exit 0' USR1\nsleep 30 & wait",
            seen.display()
        );
        let f = files.attempt_files(&d);
        std::fs::write(&f.user, &d.script).unwrap();
        let ck = files.spool_file(d.tag, "checkpoint");
        let stopped = files.spool_file(d.tag, "stopped");
        let pre = format!(
            "if [ -e {s} ]; then exit 143; fi\n",
            s = shell_quote(&stopped.display().to_string())
        );
        let w = dir.join("w.sh");
        std::fs::write(&w, wrapper_with(&d, &f, &pre, &ray_run(&f, &ck))).unwrap();
        let mut child = std::process::Command::new("bash").arg(&w).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::fs::write(&ck, b"").unwrap();
        let st = child.wait().unwrap();
        assert!(st.success(), "{st:?}");
        assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "usr1");
        assert_eq!(files.exit_code(d.tag), Some(0));
        assert!(!ck.exists(), "the marker is consumed");
        std::fs::write(&stopped, b"").unwrap();
        std::fs::remove_file(f.exit.clone()).unwrap();
        let st = std::process::Command::new("bash").arg(&w).status().unwrap();
        assert_eq!(st.code(), Some(143));
        assert_eq!(
            files.exit_code(d.tag),
            None,
            "a stopped attempt runs nothing"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A one-shot HTTP peer answering `answer` to every connection.
    fn peer(answer: &'static str) -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for c in l.incoming().take(4) {
                let Ok(mut c) = c else { continue };
                let mut buf = [0u8; 4096];
                let _ = c.read(&mut buf);
                let _ = c.write_all(answer.as_bytes());
            }
        });
        format!("http://{addr}")
    }

    /// Engine faults are reported with the engine and the request: a dashboard that
    /// answers 503, one that answers text instead of JSON, one that is not there.
    #[test]
    fn faults_name_the_request() {
        let spool = std::env::temp_dir().join("tessera-ray-faults");
        let down = RayEngine::new(
            "ray",
            &peer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy"),
            spool.clone(),
        )
        .unwrap();
        match down.nodes() {
            Err(EngineError::Unavailable { engine, message }) => {
                assert_eq!(engine, "ray");
                assert!(
                    message.contains("GET /api/v0/nodes") && message.contains("503"),
                    "{message}"
                );
            }
            r => panic!("{r:?}"),
        }
        let text = RayEngine::new(
            "ray",
            &peer("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<html>"),
            spool.clone(),
        )
        .unwrap();
        assert!(
            matches!(text.jobs(), Err(EngineError::Protocol { message, .. }) if message.contains("/api/jobs/"))
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let gone = RayEngine::new("ray", &format!("http://127.0.0.1:{port}"), spool).unwrap();
        assert!(matches!(gone.nodes(), Err(EngineError::Unavailable { .. })));
        assert!(matches!(
            gone.cancel("bad id;"),
            Err(EngineError::Rejected { .. })
        ));
    }

    proptest::proptest! {
        /// The readers never panic, whatever JSON Ray answers.
        #[test]
        fn readers_take_any_json(s in "\\PC{0,200}") {
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let _ = parse_nodes(&v);
                let _ = parse_jobs(&v);
            }
        }
    }
}
