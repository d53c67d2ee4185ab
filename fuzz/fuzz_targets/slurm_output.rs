//! What the Slurm tools print, as tessera's Slurm engine reads it: jobs, nodes and job
//! ids, or an error naming the line; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_engine::slurm::{parse_sbatch, parse_sinfo, parse_squeue};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(jobs) = parse_squeue(&text) {
        for j in jobs {
            let _ = (j.state.is_terminal(), j.tag.map(|t| t.comment()));
        }
    }
    if let Ok(nodes) = parse_sinfo(&text) {
        for n in nodes {
            assert!(n.chips_used <= n.chips);
        }
    }
    let _ = parse_sbatch(&text);
});
