//! What Ray's Jobs and State APIs and the Kubernetes API server answer, as tessera's Ray
//! and Kubernetes engines read it: nodes, usage and jobs, or an error; never a panic,
//! and never more chips in use than a node has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_engine::k8s::read;
use tessera_engine::ray;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = read::status_reason(&text);
    let _ = read::watch_events(&text);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return;
    };
    if let Ok(nodes) = ray::parse_nodes(&v) {
        for n in nodes {
            let _ = (n.alive, n.resources.len());
        }
    }
    if let Ok(jobs) = ray::parse_jobs(&v) {
        for j in jobs {
            let _ = ray::job_state(&j.status, &j.error_type);
        }
    }
    let used = read::usage(&v).unwrap_or_default();
    if let Ok(nodes) = read::nodes(&v, &used) {
        for n in nodes {
            assert!(n.chips_used <= n.chips);
        }
    }
    if let Ok(jobs) = read::jobs(&v) {
        for j in jobs {
            let _ = (j.state.is_terminal(), j.tag.map(|t| t.name()));
        }
    }
});
