//! What the Slurm tools print, and what slurmrestd answers, as tessera's Slurm engines
//! read it: jobs, nodes and job ids, or an error naming the line or job; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_engine::slurm::{
    merge_components, parse_sacct, parse_sbatch, parse_sinfo, parse_squeue,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jobs) = parse_squeue(&text) {
        let n = jobs.len();
        for j in &jobs {
            let _ = (j.state.is_terminal(), j.tag.map(|t| t.comment()));
        }
        // Heterogeneous jobs' component rows merge into one job each; never more jobs.
        assert!(merge_components(jobs).len() <= n);
    }
    if let Ok(nodes) = parse_sinfo(&text) {
        for n in nodes {
            assert!(n.chips_used <= n.chips);
        }
    }
    let _ = parse_sbatch(&text);
    let _ = parse_sacct(&text);
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let _ = tessera_engine::slurmrest::parse_jobs(&v);
        if let Ok(nodes) = tessera_engine::slurmrest::parse_nodes(&v) {
            for n in nodes {
                assert!(n.chips_used <= n.chips);
            }
        }
    }
});
