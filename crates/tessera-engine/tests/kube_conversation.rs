//! The Kubernetes engine against a conversation with an API server
//! (`tests/data/kube-conversation.json`): every request it makes, in order, with its
//! method, path and body, answered as the conversation says; and what the engine makes
//! of the answers. Then a live test that runs when `KUBECONFIG` points at a cluster.
//!
//! Needs `--features kube` (`tools/test.sh` runs it so).

#![cfg(feature = "kube")]
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::pin::pin;
use tessera_engine::kube::{KubeEngine, KubeSettings};
use tessera_engine::{Dispatch, Engine, EngineError, EngineState, NodeState, Tag, Target};

fn conversation() -> Vec<Value> {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/kube-conversation.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["steps"].as_array().unwrap().clone()
}

fn settings() -> KubeSettings {
    KubeSettings {
        namespace: "ml".into(),
        queue: "research".into(),
        image: "registry.example.com/base:1".into(),
    }
}

fn dispatch(job: u64) -> Dispatch {
    Dispatch {
        tag: Tag {
            instance: 0xbeef,
            job,
            attempt: 1,
        },
        target: Target {
            partition: "nvidia-a800-sxm4-80gb".into(),
            gres_type: "nvidia.com/gpu".into(),
            gres_name: "k8s".into(),
            visible_devices_env: Some("CUDA_VISIBLE_DEVICES".into()),
        },
        nodes: 2,
        chips_per_node: 8,
        script: "echo hi; exit 0".into(),
        env: vec![("TESSERA_JOB_ID".into(), job.to_string())],
        grace_s: 45,
        lost_attempts: vec![],
        also: Vec::new(),
    }
}

/// The engine on a mock API server that plays `steps`; returns the engine and the
/// thread that checks each request (it fails on the first request that differs).
fn engine_on(steps: Vec<Value>) -> (KubeEngine, std::thread::JoinHandle<Vec<String>>) {
    use kube::client::Body;
    let (service, handle) = tower_test::mock::pair::<http::Request<Body>, http::Response<Body>>();
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut handle = pin!(handle);
            let mut seen = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                let (req, send) = handle
                    .next_request()
                    .await
                    .unwrap_or_else(|| panic!("step {i} ({}): no request came", s["say"]));
                let method = req.method().to_string();
                let path = req.uri().to_string();
                assert_eq!(
                    (method.as_str(), path.as_str()),
                    (s["method"].as_str().unwrap(), s["path"].as_str().unwrap()),
                    "step {i} ({})",
                    s["say"]
                );
                let body = req.into_body().collect_bytes().await.unwrap();
                let body = String::from_utf8_lossy(&body).into_owned();
                for want in s["expect"].as_array().into_iter().flatten() {
                    let w = want.as_str().unwrap();
                    assert!(
                        body.contains(w),
                        "step {i} ({}): body lacks {w}: {body}",
                        s["say"]
                    );
                }
                let text = match s.get("text") {
                    Some(t) => t.as_str().unwrap().to_string(),
                    None => s["answer"].to_string(),
                };
                let res = http::Response::builder()
                    .status(s["status"].as_u64().unwrap() as u16)
                    .header("content-type", "application/json")
                    .body(Body::from(text.into_bytes()))
                    .unwrap();
                send.send_response(res);
                seen.push(format!("{method} {path}"));
            }
            seen
        })
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = {
        let _in = rt.enter();
        kube::Client::new(service, "ml")
    };
    (
        KubeEngine::with_client("k8s", client, rt, settings()),
        server,
    )
}

#[test]
fn the_engine_follows_the_conversation() {
    let steps = conversation();
    let n = steps.len();
    let (e, server) = engine_on(steps);

    // Capacity: allocatable extended resources less live pods' requests; a cordoned
    // node is drained, a node not Ready is down; the chip label is the partition.
    let nodes = e.nodes().unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let gpu = nodes.iter().find(|x| x.name == "gpu-0").unwrap();
    assert_eq!(
        (
            gpu.partition.as_str(),
            gpu.gres_type.as_str(),
            gpu.chips,
            gpu.chips_used,
            gpu.state
        ),
        (
            "nvidia-a800-sxm4-80gb",
            "nvidia.com/gpu",
            8,
            2,
            NodeState::Up
        )
    );
    assert_eq!(
        nodes.iter().find(|x| x.name == "npu-0").unwrap().state,
        NodeState::Drained
    );
    assert_eq!(
        nodes.iter().find(|x| x.name == "xpu-0").unwrap().state,
        NodeState::Down
    );

    // A gang of two 8-GPU pods; then the same attempt again, which exists.
    assert_eq!(e.submit(&dispatch(42)).unwrap(), "tessera-0000beef-42-1");
    assert_eq!(e.submit(&dispatch(42)).unwrap(), "tessera-0000beef-42-1");

    // Status from the Jobs' conditions.
    let jobs = e.jobs().unwrap();
    let st = |job: u64| {
        jobs.iter()
            .find(|j| j.tag.is_some_and(|t| t.job == job))
            .map(|j| j.state)
            .unwrap()
    };
    assert_eq!(st(42), EngineState::Running);
    assert_eq!(st(43), EngineState::Pending);
    assert_eq!(st(44), EngineState::Succeeded);
    assert_eq!(st(45), EngineState::Failed);
    assert_eq!(
        st(46),
        EngineState::NodeFailed,
        "a disruption is the engine's doing"
    );

    // The next rounds watch from the list's version: only the changes come.
    let jobs = e.jobs().unwrap();
    let has = |job: u64| {
        jobs.iter()
            .find(|j| j.tag.is_some_and(|t| t.job == job))
            .map(|j| j.state)
    };
    assert_eq!(has(42), Some(EngineState::Succeeded));
    assert_eq!(has(43), None, "deleted");
    assert_eq!(has(48), Some(EngineState::Pending));
    assert_eq!(has(44), Some(EngineState::Succeeded), "unchanged, kept");
    // A compacted version ends the watch: the engine lists again.
    let jobs = e.jobs().unwrap();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].tag.map(|t| t.job), Some(48));

    // The checkpoint signal has no API call; a cancel deletes the gang.
    assert!(matches!(
        e.signal_checkpoint("tessera-0000beef-42-1"),
        Err(EngineError::Rejected { .. })
    ));
    e.cancel("tessera-0000beef-42-1").unwrap();

    // No Volcano on the cluster: refused with the API server's words, nothing left.
    let err = e.submit(&dispatch(47)).unwrap_err();
    assert!(
        matches!(&err, EngineError::Rejected { message, .. } if message.contains("PodGroup") && message.contains("404")),
        "{err}"
    );

    // An API server in trouble is unavailable; a non-JSON answer is a protocol error.
    assert!(matches!(e.nodes(), Err(EngineError::Unavailable { .. })));
    assert!(matches!(e.nodes(), Err(EngineError::Protocol { .. })));
    assert!(matches!(
        e.cancel("Not A Name"),
        Err(EngineError::Rejected { .. })
    ));

    drop(e);
    let seen = server
        .join()
        .expect("a request differed from the conversation");
    assert_eq!(seen.len(), n);
}

/// Against a real cluster, when `KUBECONFIG` names one: capacity is read and a one-pod
/// gang is created and deleted (it needs Volcano and a node labelled
/// `tessera.io/chip`; `TESSERA_K8S_RESOURCE` names the device plugin's resource, by
/// default `nvidia.com/gpu`). No cluster can be installed on tessera's CI machines, so
/// there it says it skipped.
#[test]
fn live_cluster_when_kubeconfig_names_one() {
    let Some(path) = std::env::var_os("KUBECONFIG").filter(|p| std::path::Path::new(p).exists())
    else {
        eprintln!(
            "live_cluster_when_kubeconfig_names_one: skipped, KUBECONFIG names no cluster (none can be installed on CI machines)"
        );
        return;
    };
    let e = KubeEngine::connect(
        "k8s",
        Some(std::path::Path::new(&path)),
        KubeSettings {
            namespace: std::env::var("TESSERA_K8S_NAMESPACE").unwrap_or_else(|_| "default".into()),
            queue: "default".into(),
            image: std::env::var("TESSERA_K8S_IMAGE").unwrap_or_else(|_| "busybox:1.36".into()),
        },
    )
    .unwrap();
    let nodes = e.nodes().unwrap();
    eprintln!("nodes: {nodes:?}");
    let resource =
        std::env::var("TESSERA_K8S_RESOURCE").unwrap_or_else(|_| "nvidia.com/gpu".into());
    let Some(n) = nodes
        .iter()
        .find(|n| n.gres_type == resource && !n.partition.is_empty())
    else {
        eprintln!(
            "no node labelled tessera.io/chip with {resource}: capacity read, nothing submitted"
        );
        return;
    };
    let mut d = dispatch(std::process::id() as u64);
    d.nodes = 1;
    d.chips_per_node = 1;
    d.target.partition = n.partition.clone();
    d.target.gres_type = resource;
    d.script = "echo tessera; sleep 5".into();
    let id = e.submit(&d).unwrap();
    assert!(e.jobs().unwrap().iter().any(|j| j.engine_id == id));
    e.cancel(&id).unwrap();
}
