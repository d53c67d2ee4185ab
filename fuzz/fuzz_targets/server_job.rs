//! Job documents as `tessera server` and `tessera submit` read them (JSON and TOML): a
//! job that passes validation, or an error with a message; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for r in [
        tessera_server::job::parse_json(text),
        tessera_server::job::parse_toml("job.toml", text),
    ] {
        match r {
            Ok(spec) => {
                assert!(spec.chips() >= 1);
                let _ = serde_json::to_string(&spec).map(|s| tessera_server::job::parse_json(&s));
            }
            Err(e) => assert!(!e.message.is_empty()),
        }
    }
});
