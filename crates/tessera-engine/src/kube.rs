//! The live Kubernetes engine, on kube-rs (cargo feature `kube`): each attempt is the
//! gang of [`crate::k8s::manifests`] (a headless Service, a Volcano PodGroup, an indexed
//! Job) created through the API server; capacity is the nodes' allocatable extended
//! resources less what live pods request; status is the Jobs' conditions; a cancel
//! deletes the three objects (the pods get SIGTERM and the job's grace period).
//!
//! kube-rs gives the connection: the kubeconfig (`KUBECONFIG`, `~/.kube/config`, or the
//! file the configuration names) or the in-cluster service account, TLS and
//! authentication. The requests themselves are plain REST paths, so that the engine's
//! whole conversation with the API server can be checked request by request
//! (`tests/kube_conversation.rs`).
//!
//! Jobs are listed once, then followed with watches: each call to `jobs` resumes a
//! watch from the last resource version (`watch=1&resourceVersion=RV`, ended by the API
//! server after `timeoutSeconds=1`) and applies its events to the engine's copy; a 410
//! Gone (the version compacted away) or a broken stream lists again. So a round costs
//! the changes since the last one, not the whole list.
//!
//! Identity: every object is named by tessera's tag (`tessera-<instance>-<job>-<attempt>`)
//! and labelled with `tessera.io/instance`, `tessera.io/job` and `tessera.io/attempt`;
//! an object that already exists (HTTP 409) is the same attempt. The engine is
//! synchronous, like the others: it owns a current-thread Tokio runtime and blocks on
//! each call.

use crate::k8s::{self, Gang};
use crate::{Dispatch, Engine, EngineError, EngineJob, Node, Tag};
use kube::client::Body;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// The engine's copy of tessera's Jobs, kept current by watches.
#[derive(Debug, Default)]
struct JobCache {
    /// Listed at least once, and the watch not broken since.
    synced: bool,
    resource_version: String,
    jobs: BTreeMap<String, Value>,
}

/// A Kubernetes cluster reached through its API server.
pub struct KubeEngine {
    name: String,
    namespace: String,
    queue: String,
    image: String,
    client: kube::Client,
    rt: tokio::runtime::Runtime,
    cache: Mutex<JobCache>,
}

impl std::fmt::Debug for KubeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeEngine")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// How a pool's jobs look on the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeSettings {
    pub namespace: String,
    /// The Volcano queue of every PodGroup.
    pub queue: String,
    /// The image a batch job's script runs in (it needs bash).
    pub image: String,
}

impl KubeEngine {
    /// Connects with a kubeconfig file, else as `kubectl` would (`KUBECONFIG`, then
    /// `~/.kube/config`, then the in-cluster service account).
    pub fn connect(
        name: &str,
        kubeconfig: Option<&std::path::Path>,
        s: KubeSettings,
    ) -> Result<Self, String> {
        let rt = runtime()?;
        let client = rt.block_on(async {
            let config = match kubeconfig {
                Some(p) => {
                    let kc = kube::config::Kubeconfig::read_from(p)
                        .map_err(|e| format!("{}: {e}", p.display()))?;
                    kube::Config::from_custom_kubeconfig(kc, &Default::default())
                        .await
                        .map_err(|e| format!("{}: {e}", p.display()))?
                }
                None => kube::Config::infer()
                    .await
                    .map_err(|e| format!("no Kubernetes configuration: {e}"))?,
            };
            kube::Client::try_from(config).map_err(|e| e.to_string())
        })?;
        Ok(Self::with_client(name, client, rt, s))
    }

    /// An engine over a given client (a test's recorded conversation).
    pub fn with_client(
        name: &str,
        client: kube::Client,
        rt: tokio::runtime::Runtime,
        s: KubeSettings,
    ) -> Self {
        KubeEngine {
            name: name.to_string(),
            namespace: s.namespace,
            queue: s.queue,
            image: s.image,
            client,
            rt,
            cache: Mutex::new(JobCache::default()),
        }
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

    /// One request: its status and body.
    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), EngineError> {
        let mut req = http::Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let req = req
            .body(Body::from(bytes))
            .map_err(|e| self.rejected(format!("{method} {path}: {e}")))?;
        self.rt.block_on(async {
            let res = self
                .client
                .send(req)
                .await
                .map_err(|e| self.unavailable(format!("{method} {path}: {e}")))?;
            let status = res.status().as_u16();
            let bytes = res
                .into_body()
                .collect_bytes()
                .await
                .map_err(|e| self.unavailable(format!("{method} {path}: {e}")))?;
            Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
        })
    }

    /// A read that must answer 200 with JSON.
    fn get(&self, path: &str) -> Result<Value, EngineError> {
        let (st, body) = self.call("GET", path, None)?;
        if st != 200 {
            let (reason, msg) = k8s::read::status_reason(&body);
            let m = format!("GET {path}: HTTP {st} {reason}: {msg}");
            return Err(if st >= 500 || st == 401 || st == 403 || st == 429 {
                self.unavailable(m)
            } else {
                self.rejected(m)
            });
        }
        serde_json::from_str(&body).map_err(|e| EngineError::Protocol {
            engine: self.name.clone(),
            message: format!("GET {path}: not JSON ({e})"),
        })
    }

    fn ns(&self) -> &str {
        &self.namespace
    }

    /// The collection paths of a gang's three objects, in the order they are created.
    fn paths(&self) -> [(String, &'static str); 3] {
        let ns = self.ns();
        [
            (format!("/api/v1/namespaces/{ns}/services"), "Service"),
            (
                format!("/apis/scheduling.volcano.sh/v1beta1/namespaces/{ns}/podgroups"),
                "PodGroup",
            ),
            (format!("/apis/batch/v1/namespaces/{ns}/jobs"), "Job"),
        ]
    }

    /// The gang of a dispatch.
    pub fn gang(&self, d: &Dispatch) -> Gang {
        let t = d.tag;
        Gang {
            name: t.name(),
            namespace: Some(self.namespace.clone()),
            queue: self.queue.clone(),
            chip: d.target.partition.clone(),
            resource: d.target.gres_type.clone(),
            nodes: d.nodes.max(1),
            chips_per_node: d.chips_per_node,
            image: self.image.clone(),
            // The script as one argument: no shell line is built from it.
            command: vec!["bash".into(), "-c".into(), d.script.clone()],
            env: d.env.clone(),
            labels: vec![
                ("tessera.io/instance".into(), format!("{:08x}", t.instance)),
                ("tessera.io/job".into(), t.job.to_string()),
                ("tessera.io/attempt".into(), t.attempt.to_string()),
            ],
            grace_s: (d.grace_s > 0).then_some(d.grace_s),
        }
    }

    /// Deletes a gang's objects; those already gone are fine.
    fn delete_all(&self, name: &str) -> Result<(), EngineError> {
        let opts =
            json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
        for (base, kind) in self.paths().iter().rev() {
            let path = format!("{base}/{name}");
            let (st, body) = self.call("DELETE", &path, Some(&opts))?;
            match st {
                200..=299 | 404 => {}
                s if s >= 500 || s == 401 || s == 403 || s == 429 => {
                    return Err(self.unavailable(format!(
                        "DELETE {kind} {name}: HTTP {s}: {}",
                        k8s::read::status_reason(&body).1
                    )));
                }
                s => {
                    return Err(self.rejected(format!(
                        "DELETE {kind} {name}: HTTP {s}: {}",
                        k8s::read::status_reason(&body).1
                    )));
                }
            }
        }
        Ok(())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn check_name(e: &KubeEngine, id: &str) -> Result<(), EngineError> {
    if !k8s::dns_label(id) {
        return Err(e.rejected(format!("`{id}` is not a Kubernetes object name")));
    }
    Ok(())
}

impl Engine for KubeEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let nodes = self.get("/api/v1/nodes")?;
        let pods = self.get(
            "/api/v1/pods?fieldSelector=status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed",
        )?;
        let proto = |message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        };
        let used = k8s::read::usage(&pods).map_err(proto)?;
        k8s::read::nodes(&nodes, &used).map_err(proto)
    }

    fn submit(&self, d: &Dispatch) -> Result<String, EngineError> {
        if !d.also.is_empty() {
            return Err(crate::EngineError::Rejected {
                engine: self.name().to_string(),
                message: "this engine cannot start one job across several pools".into(),
            });
        }
        let objects = k8s::manifests(&self.gang(d)).map_err(|m| self.rejected(m))?;
        let name = d.tag.name();
        for ((base, kind), (_, obj)) in self.paths().iter().zip(objects.iter()) {
            let (st, body) = self.call("POST", base, Some(obj))?;
            match st {
                200..=299 => {}
                // The same attempt, created before a crash: it is this attempt.
                409 => {}
                s if s >= 500 || s == 401 || s == 403 || s == 429 => {
                    return Err(self.unavailable(format!(
                        "POST {kind} {name}: HTTP {s}: {}",
                        k8s::read::status_reason(&body).1
                    )));
                }
                s => {
                    // A refusal (a missing Volcano CRD is 404, an invalid object 422):
                    // take back what was created.
                    let _ = self.delete_all(&name);
                    return Err(self.rejected(format!(
                        "POST {kind} {name}: HTTP {s}: {}",
                        k8s::read::status_reason(&body).1
                    )));
                }
            }
        }
        Ok(name)
    }

    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError> {
        use k8s::read::WatchEvent;
        let base = format!(
            "/apis/batch/v1/namespaces/{}/jobs?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dtessera",
            self.ns()
        );
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.synced {
            let path = format!(
                "{base}&watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion={}",
                c.resource_version
            );
            let (st, body) = self.call("GET", &path, None)?;
            if st == 200 {
                let (events, rv) = k8s::read::watch_events(&body);
                for e in events {
                    match e {
                        WatchEvent::Upsert(name, obj) => {
                            c.jobs.insert(name, obj);
                        }
                        WatchEvent::Deleted(name) => {
                            c.jobs.remove(&name);
                        }
                        WatchEvent::Bookmark => {}
                        // The watch ended (410 Gone: the version was compacted away).
                        WatchEvent::Error(..) => {
                            c.synced = false;
                            break;
                        }
                    }
                }
                if c.synced
                    && let Some(rv) = rv
                {
                    c.resource_version = rv;
                }
            } else {
                // 410 Gone as a status, or anything else: list afresh.
                c.synced = false;
            }
        }
        if !c.synced {
            let v = self.get(&base)?;
            let items = v
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            c.jobs = items
                .into_iter()
                .filter_map(|j| {
                    let n = j.pointer("/metadata/name")?.as_str()?.to_string();
                    Some((n, j))
                })
                .collect();
            c.resource_version = v
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            c.synced = !c.resource_version.is_empty();
        }
        let list = json!({ "items": c.jobs.values().cloned().collect::<Vec<_>>() });
        k8s::read::jobs(&list).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })
    }

    fn outcome(&self, _tag: Tag) -> Option<i32> {
        // Kubernetes keeps a Job until tessera deletes it, after its end is recorded.
        None
    }

    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError> {
        check_name(self, engine_id)?;
        // No signal call in the API: the cancel that follows deletes the pods, which get
        // SIGTERM and the job's grace period (terminationGracePeriodSeconds).
        Err(self.rejected(
            "Kubernetes has no signal call: the pods get SIGTERM and the grace period on cancel"
                .into(),
        ))
    }

    fn cancel(&self, engine_id: &str) -> Result<(), EngineError> {
        check_name(self, engine_id)?;
        self.delete_all(engine_id)
    }

    fn forget(&self, engine_id: &str) -> Result<(), EngineError> {
        check_name(self, engine_id)?;
        self.delete_all(engine_id)
    }
}
