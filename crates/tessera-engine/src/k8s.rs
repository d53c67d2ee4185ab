//! Kubernetes manifests for one gang: a headless Service (stable pod names for the
//! rendezvous), a Volcano `PodGroup` (the gang: `minMember` pods start together or not
//! at all) and an indexed `batch/v1` Job of one pod per node, scheduled by Volcano, on
//! nodes labelled with the chip type, each pod asking for the node's accelerators under
//! the vendor device plugin's resource name. JSON (which kubectl takes as YAML).
//! Validated in CI against the Kubernetes schemas (kubernetes-validate) and Volcano's own
//! PodGroup CRD schema (`tools/k8s-schemas/`).

use serde_json::{Value, json};

/// The node label tessera selects a chip type by.
pub const CHIP_LABEL: &str = "tessera.io/chip";

/// One gang to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Gang {
    /// A DNS-1123 name for the Job, its Service and its PodGroup.
    pub name: String,
    pub namespace: Option<String>,
    /// Volcano queue.
    pub queue: String,
    /// Catalog chip id (the value of [`CHIP_LABEL`] on its nodes).
    pub chip: String,
    /// The device plugin's extended resource (`nvidia.com/gpu`, `huawei.com/Ascend910`).
    pub resource: String,
    pub nodes: u32,
    pub chips_per_node: u32,
    pub image: String,
    /// The container's command, one argument per entry; `$(JOB_COMPLETION_INDEX)` is the
    /// pod's index and `$(MASTER_ADDR)` the first pod's name.
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Labels on every object and pod (tessera's job id and attempt when the server
    /// dispatches).
    pub labels: Vec<(String, String)>,
    /// Seconds between SIGTERM and SIGKILL when the pods are deleted (the job's
    /// checkpoint grace); `None`: Kubernetes' default of 30.
    pub grace_s: Option<u32>,
}

/// A valid DNS-1123 label (lower-case letters, digits, '-'; at most 63; alphanumeric ends).
pub fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The name made a DNS-1123 label: lower case, other characters as '-', at most 50 so
/// that pod names (`NAME-INDEX-xxxxx`) stay valid.
pub fn to_dns_label(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(50);
    let t = out.trim_matches('-').to_string();
    if t.is_empty() { "tessera".into() } else { t }
}

/// The manifests of a gang, in the order to apply them: (file stem, object).
pub fn manifests(g: &Gang) -> Result<Vec<(String, Value)>, String> {
    if !dns_label(&g.name) || g.name.len() > 50 {
        return Err(format!(
            "`{}` is not a DNS-1123 label of at most 50 characters",
            g.name
        ));
    }
    if g.nodes == 0 || g.chips_per_node == 0 {
        return Err("a gang needs at least one node and one chip per node".into());
    }
    if g.resource.is_empty() || g.resource.contains(char::is_whitespace) {
        return Err(format!("`{}` is not an extended resource name", g.resource));
    }
    if let Some(ns) = &g.namespace
        && !dns_label(ns)
    {
        return Err(format!("namespace `{ns}` is not a DNS-1123 label"));
    }
    let mut labels = serde_json::Map::new();
    labels.insert("app.kubernetes.io/managed-by".into(), "tessera".into());
    labels.insert("tessera.io/name".into(), g.name.clone().into());
    for (k, v) in &g.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    let meta = |name: &str| {
        let mut m = json!({ "name": name, "labels": labels });
        if let Some(ns) = &g.namespace {
            m["namespace"] = ns.clone().into();
        }
        m
    };
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(&g.name),
        "spec": {
            "clusterIP": "None",
            "selector": { "tessera.io/name": g.name },
            "publishNotReadyAddresses": true,
        },
    });
    let total = g.nodes as u64 * g.chips_per_node as u64;
    let podgroup = json!({
        "apiVersion": "scheduling.volcano.sh/v1beta1",
        "kind": "PodGroup",
        "metadata": meta(&g.name),
        "spec": {
            "minMember": g.nodes,
            "queue": g.queue,
            "minResources": { g.resource.clone(): total.to_string() },
        },
    });
    let mut env = vec![
        json!({ "name": "MASTER_ADDR", "value": format!("{}-0.{}", g.name, g.name) }),
        json!({ "name": "MASTER_PORT", "value": "29500" }),
        json!({ "name": "TESSERA_CHIP", "value": g.chip }),
    ];
    for (k, v) in &g.env {
        env.push(json!({ "name": k, "value": v }));
    }
    let mut pod_labels = labels.clone();
    pod_labels.insert("tessera.io/name".into(), g.name.clone().into());
    let job = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(&g.name),
        "spec": {
            "completionMode": "Indexed",
            "completions": g.nodes,
            "parallelism": g.nodes,
            "backoffLimit": 0,
            // A pod ended by a disruption (its node lost, a preemption, an eviction)
            // fails the Job with reason PodFailurePolicy, not BackoffLimitExceeded:
            // tessera reads that as the engine's doing and starts a new attempt.
            "podFailurePolicy": {
                "rules": [{
                    "action": "FailJob",
                    "onPodConditions": [{ "type": "DisruptionTarget", "status": "True" }],
                }],
            },
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": { "scheduling.k8s.io/group-name": g.name },
                },
                "spec": {
                    "schedulerName": "volcano",
                    "subdomain": g.name,
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": g.grace_s.unwrap_or(30),
                    "nodeSelector": { CHIP_LABEL: g.chip },
                    "containers": [{
                        "name": "main",
                        "image": g.image,
                        "command": g.command,
                        "env": env,
                        "resources": {
                            "limits": { g.resource.clone(): g.chips_per_node.to_string() },
                            "requests": { g.resource.clone(): g.chips_per_node.to_string() },
                        },
                    }],
                },
            },
        },
    });
    Ok(vec![
        (format!("{}-service", g.name), service),
        (format!("{}-podgroup", g.name), podgroup),
        (format!("{}-job", g.name), job),
    ])
}

/// A serving deployment: `replicas` identical pods of one replica's chips each.
#[derive(Debug, Clone, PartialEq)]
pub struct Replicas {
    pub name: String,
    pub namespace: Option<String>,
    pub chip: String,
    pub resource: String,
    pub replicas: u32,
    pub chips_per_replica: u32,
    pub image: String,
    /// The serving engine's command, one argument per entry.
    pub command: Vec<String>,
    /// The port it listens on.
    pub port: u16,
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
}

/// The manifests of a serving deployment: an `apps/v1` Deployment of the replicas and a
/// Service in front of them.
pub fn serving_manifests(r: &Replicas) -> Result<Vec<(String, Value)>, String> {
    if !dns_label(&r.name) || r.name.len() > 50 {
        return Err(format!(
            "`{}` is not a DNS-1123 label of at most 50 characters",
            r.name
        ));
    }
    if r.replicas == 0 || r.chips_per_replica == 0 || r.port == 0 {
        return Err("a deployment needs replicas, chips per replica and a port".into());
    }
    if r.resource.is_empty() || r.resource.contains(char::is_whitespace) {
        return Err(format!("`{}` is not an extended resource name", r.resource));
    }
    if let Some(ns) = &r.namespace
        && !dns_label(ns)
    {
        return Err(format!("namespace `{ns}` is not a DNS-1123 label"));
    }
    let mut labels = serde_json::Map::new();
    labels.insert("app.kubernetes.io/managed-by".into(), "tessera".into());
    labels.insert("tessera.io/name".into(), r.name.clone().into());
    for (k, v) in &r.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    let meta = |name: &str| {
        let mut m = json!({ "name": name, "labels": labels });
        if let Some(ns) = &r.namespace {
            m["namespace"] = ns.clone().into();
        }
        m
    };
    let mut env = vec![json!({ "name": "TESSERA_CHIP", "value": r.chip })];
    for (k, v) in &r.env {
        env.push(json!({ "name": k, "value": v }));
    }
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(&r.name),
        "spec": {
            "selector": { "tessera.io/name": r.name },
            "ports": [{ "name": "http", "port": r.port, "targetPort": r.port }],
        },
    });
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(&r.name),
        "spec": {
            "replicas": r.replicas,
            "selector": { "matchLabels": { "tessera.io/name": r.name } },
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "nodeSelector": { CHIP_LABEL: r.chip },
                    "containers": [{
                        "name": "serve",
                        "image": r.image,
                        "command": r.command,
                        "ports": [{ "containerPort": r.port }],
                        "env": env,
                        "resources": {
                            "limits": { r.resource.clone(): r.chips_per_replica.to_string() },
                            "requests": { r.resource.clone(): r.chips_per_replica.to_string() },
                        },
                    }],
                },
            },
        },
    });
    Ok(vec![
        (format!("{}-service", r.name), service),
        (format!("{}-deployment", r.name), deployment),
    ])
}

/// What the live engine reads from the API server: the answers of `GET /api/v1/nodes`,
/// `GET /api/v1/pods` and `GET /apis/batch/v1/namespaces/NS/jobs`, turned into the
/// engine's terms. Pure, so that any JSON can be fed to them (property tests).
pub mod read {
    use crate::{EngineJob, EngineState, Node, NodeState, Tag};
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn items(v: &Value) -> Result<&Vec<Value>, String> {
        v.get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| "no `items` list".to_string())
    }

    /// A quantity as Kubernetes prints a count of devices (`"8"`; `"8k"` and friends are
    /// not device counts and are ignored).
    fn count(v: &Value) -> Option<u32> {
        match v {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_u64().and_then(|x| u32::try_from(x).ok()),
            _ => None,
        }
    }

    /// Chips of each extended resource requested by the live pods on each node:
    /// (node, resource) -> chips.
    pub fn usage(pods: &Value) -> Result<BTreeMap<(String, String), u32>, String> {
        let mut m = BTreeMap::new();
        for p in items(pods)? {
            let phase = p
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("");
            if matches!(phase, "Succeeded" | "Failed") {
                continue;
            }
            let Some(node) = p.pointer("/spec/nodeName").and_then(Value::as_str) else {
                continue;
            };
            for c in p
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(req) = c.pointer("/resources/requests").and_then(Value::as_object) {
                    for (k, v) in req.iter().filter(|(k, _)| k.contains('/')) {
                        if let Some(n) = count(v) {
                            *m.entry((node.to_string(), k.clone())).or_insert(0) += n;
                        }
                    }
                }
            }
        }
        Ok(m)
    }

    /// The nodes: one entry per extended resource (a name with a '/': `nvidia.com/gpu`)
    /// a node has allocatable, its `tessera.io/chip` label as the partition.
    pub fn nodes(
        nodes: &Value,
        used: &BTreeMap<(String, String), u32>,
    ) -> Result<Vec<Node>, String> {
        let mut out = Vec::new();
        for n in items(nodes)? {
            let name = n
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let chip = n
                .pointer("/metadata/labels")
                .and_then(|l| l.get(super::CHIP_LABEL))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let ready = n
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            let cordoned = n.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true);
            let state = match (ready, cordoned) {
                (true, false) => NodeState::Up,
                (true, true) => NodeState::Drained,
                (false, _) => NodeState::Down,
            };
            let Some(alloc) = n.pointer("/status/allocatable").and_then(Value::as_object) else {
                continue;
            };
            for (k, v) in alloc.iter().filter(|(k, _)| k.contains('/')) {
                let Some(chips) = count(v).filter(|&c| c > 0) else {
                    continue;
                };
                let u = used.get(&(name.clone(), k.clone())).copied().unwrap_or(0);
                out.push(Node {
                    name: name.clone(),
                    partition: chip.clone(),
                    gres_name: "k8s".into(),
                    gres_type: k.clone(),
                    chips,
                    chips_used: u.min(chips),
                    state,
                });
            }
        }
        Ok(out)
    }

    /// tessera's Jobs in the engine's terms. A Job failed by its pod-failure policy
    /// (a disruption: a lost node, an eviction) ended by the engine's doing.
    pub fn jobs(jobs: &Value) -> Result<Vec<EngineJob>, String> {
        let mut out = Vec::new();
        for j in items(jobs)? {
            let name = j
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let st = |k: &str| {
                j.pointer(&format!("/status/{k}"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            let completions = j
                .pointer("/spec/completions")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            let cond = |t: &str| {
                j.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == t && c["status"] == "True")
                    .map(|c| {
                        (
                            c["reason"].as_str().unwrap_or("").to_string(),
                            c["message"].as_str().unwrap_or("").to_string(),
                        )
                    })
            };
            let (state, detail) = if let Some((r, m)) = cond("Failed") {
                let s = if r == "PodFailurePolicy" {
                    EngineState::NodeFailed
                } else {
                    EngineState::Failed
                };
                (s, format!("Failed: {r}: {m}"))
            } else if cond("Complete").is_some() || st("succeeded") >= completions {
                (EngineState::Succeeded, "Complete".to_string())
            } else if st("ready") > 0 {
                (
                    EngineState::Running,
                    format!("{} of {} pods ready", st("ready"), completions),
                )
            } else {
                (
                    EngineState::Pending,
                    format!("{} active, {} ready", st("active"), st("ready")),
                )
            };
            // tessera's labels first (what reconciliation goes by), the name otherwise.
            let label = |k: &str| {
                j.pointer("/metadata/labels")
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
            };
            let from_labels = match (
                label("tessera.io/instance").and_then(|i| u32::from_str_radix(i, 16).ok()),
                label("tessera.io/job").and_then(|x| x.parse().ok()),
                label("tessera.io/attempt").and_then(|x| x.parse().ok()),
            ) {
                (Some(instance), Some(job), Some(attempt)) => Some(Tag {
                    instance,
                    job,
                    attempt,
                }),
                _ => None,
            };
            out.push(EngineJob {
                engine_id: name.to_string(),
                tag: from_labels.or_else(|| Tag::parse("", name)),
                state,
                detail,
                partition: j
                    .pointer("/spec/template/spec/nodeSelector")
                    .and_then(|s| s.get(super::CHIP_LABEL))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                nodes: String::new(),
                exit_code: match state {
                    EngineState::Succeeded => Some(0),
                    _ => None,
                },
            });
        }
        Ok(out)
    }

    /// One event of a watch stream (`{"type": ..., "object": ...}` per line).
    #[derive(Debug, Clone, PartialEq)]
    pub enum WatchEvent {
        /// ADDED or MODIFIED: the object as it is now.
        Upsert(String, Value),
        Deleted(String),
        /// BOOKMARK: nothing changed up to this resource version.
        Bookmark,
        /// ERROR: the watch ended; 410 Gone means the version is too old to resume.
        Error(u64, String),
    }

    /// The events of a watch answer, in order, and the last resource version seen.
    pub fn watch_events(body: &str) -> (Vec<WatchEvent>, Option<String>) {
        let mut out = Vec::new();
        let mut rv = None;
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Ok(e) = serde_json::from_str::<Value>(line) else {
                out.push(WatchEvent::Error(
                    0,
                    format!("not JSON: {}", line.chars().take(100).collect::<String>()),
                ));
                break;
            };
            let obj = &e["object"];
            if let Some(v) = obj
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
            {
                rv = Some(v.to_string());
            }
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            out.push(match e["type"].as_str().unwrap_or("") {
                "ADDED" | "MODIFIED" => WatchEvent::Upsert(name, obj.clone()),
                "DELETED" => WatchEvent::Deleted(name),
                "BOOKMARK" => WatchEvent::Bookmark,
                _ => WatchEvent::Error(
                    obj["code"].as_u64().unwrap_or(0),
                    obj["message"].as_str().unwrap_or("").to_string(),
                ),
            });
        }
        (out, rv)
    }

    /// The status of a Kubernetes error answer (`{"kind": "Status", "reason": ...}`).
    pub fn status_reason(body: &str) -> (String, String) {
        let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        (
            v["reason"].as_str().unwrap_or("").to_string(),
            v["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.chars().take(200).collect()),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn gang() -> Gang {
        Gang {
            grace_s: None,
            name: "llama3-8b-ascend".into(),
            namespace: Some("team-a".into()),
            queue: "training".into(),
            chip: "huawei-ascend-910b2".into(),
            resource: "huawei.com/Ascend910".into(),
            nodes: 2,
            chips_per_node: 8,
            image: "example.com/mindspeed:latest".into(),
            command: vec![
                "torchrun".into(),
                "--node-rank".into(),
                "$(JOB_COMPLETION_INDEX)".into(),
            ],
            env: vec![("TESSERA_TP".into(), "2".into())],
            labels: vec![("tessera.io/job".into(), "7".into())],
        }
    }

    #[test]
    fn a_gang_is_a_service_a_podgroup_and_an_indexed_job() {
        let m = manifests(&gang()).unwrap();
        let kinds: Vec<&str> = m.iter().map(|(_, v)| v["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["Service", "PodGroup", "Job"]);
        let (pg, job) = (&m[1].1, &m[2].1);
        assert_eq!(pg["spec"]["minMember"], 2);
        assert_eq!(pg["spec"]["minResources"]["huawei.com/Ascend910"], "16");
        assert_eq!(job["spec"]["completions"], 2);
        assert_eq!(job["spec"]["completionMode"], "Indexed");
        let pod = &job["spec"]["template"];
        assert_eq!(
            pod["metadata"]["annotations"]["scheduling.k8s.io/group-name"],
            "llama3-8b-ascend"
        );
        assert_eq!(pod["spec"]["schedulerName"], "volcano");
        assert_eq!(
            pod["spec"]["nodeSelector"][CHIP_LABEL],
            "huawei-ascend-910b2"
        );
        let c = &pod["spec"]["containers"][0];
        assert_eq!(c["resources"]["limits"]["huawei.com/Ascend910"], "8");
        assert_eq!(c["command"][2], "$(JOB_COMPLETION_INDEX)");
        assert_eq!(pod["metadata"]["labels"]["tessera.io/job"], "7");
        assert!(
            m.iter()
                .all(|(_, v)| v["metadata"]["namespace"] == "team-a")
        );
    }

    #[test]
    fn serving_is_a_deployment_behind_a_service() {
        let r = Replicas {
            name: "chat".into(),
            namespace: None,
            chip: "nvidia-a800-sxm4-80gb".into(),
            resource: "nvidia.com/gpu".into(),
            replicas: 3,
            chips_per_replica: 2,
            image: "vllm/vllm-openai:latest".into(),
            command: vec!["vllm".into(), "serve".into(), "m".into()],
            port: 8000,
            env: vec![],
            labels: vec![],
        };
        let m = serving_manifests(&r).unwrap();
        assert_eq!(m[1].1["spec"]["replicas"], 3);
        let c = &m[1].1["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"], "2");
        assert_eq!(m[0].1["spec"]["ports"][0]["port"], 8000);
        assert!(serving_manifests(&Replicas { replicas: 0, ..r }).is_err());
    }

    #[test]
    fn bad_names_and_shapes_are_refused() {
        for g in [
            Gang {
                name: "Bad_Name".into(),
                ..gang()
            },
            Gang { nodes: 0, ..gang() },
            Gang {
                resource: "a b".into(),
                ..gang()
            },
            Gang {
                namespace: Some("NS".into()),
                ..gang()
            },
        ] {
            assert!(manifests(&g).is_err(), "{g:?}");
        }
        assert_eq!(to_dns_label("Llama3_8B on 910B2!"), "llama3-8b-on-910b2");
        assert!(dns_label(&to_dns_label(&"x".repeat(100))));
    }

    proptest::proptest! {
        /// The readers of API-server answers never panic, and never count more chips
        /// in use than a node has.
        #[test]
        fn readers_take_any_json(s in "\\PC{0,200}") {
            let _ = read::status_reason(&s);
            let _ = read::watch_events(&s);
            if let Ok(v) = serde_json::from_str::<Value>(&s) {
                let used = read::usage(&v).unwrap_or_default();
                if let Ok(nodes) = read::nodes(&v, &used) {
                    for n in nodes {
                        proptest::prop_assert!(n.chips_used <= n.chips);
                    }
                }
                let _ = read::jobs(&v);
            }
        }
    }
}
