//! Training and serving validation rows files: rows or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = tessera_validate::read_rows("rows.toml", text);
    let _ = tessera_validate::serve::read_serve_rows("rows.toml", text);
});
