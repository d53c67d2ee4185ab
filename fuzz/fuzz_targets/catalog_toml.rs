//! Any text merged as a catalog file must give Ok or a diagnostic, never a panic, and a
//! failed merge must leave the catalog unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_catalog::Catalog;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut cat = Catalog::default();
    let before = (cat.chips.len(), cat.models.len(), cat.events.len());
    match cat.merge_str("fuzz.toml", text) {
        Ok(()) => {
            for m in &cat.models {
                // Derived figures must not panic (overflow, division by zero).
                let _ = m.total_params();
                let _ = m.active_param_count();
                let _ = m.train_flops_per_token(4096);
                let _ = m.kv_cache_elems_per_token();
            }
            for c in &cat.chips {
                let _ = tessera_core::export::report(c, tessera_core::Date::new(2026, 1, 1), None, &cat.events);
            }
        }
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(before, (cat.chips.len(), cat.models.len(), cat.events.len()));
        }
    }
});
