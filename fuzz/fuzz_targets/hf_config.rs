//! Any text read as a Hugging Face config.json gives a model or a diagnostic, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match tessera_catalog::hf::from_hf_config("config.json", text, "fuzz") {
        Ok(m) => {
            let _ = m.total_params();
            let _ = m.active_param_count();
            let _ = m.train_flops_per_token(8192);
            let _ = m.kv_cache_elems_per_token();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
