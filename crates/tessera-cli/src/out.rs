//! Terminal tables and JSON printing.

use crate::exit::{CliError, Result};
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;
use std::cell::RefCell;
use std::io::Write;

thread_local! {
    static BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Appends to the command's output. Output is written once, at the end, by [`flush`],
/// so that a closed pipe (`tessera ... | head`) ends the program quietly, not in a panic.
pub fn push(s: &str) {
    BUF.with(|b| b.borrow_mut().push_str(s));
}

/// Like `println!`, into the output buffer.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::push("\n") };
    ($($arg:tt)*) => {{ $crate::out::push(&format!($($arg)*)); $crate::out::push("\n"); }};
}

/// Writes the buffered output to stdout. A closed pipe is not an error.
pub fn flush() -> std::io::Result<()> {
    let s = BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// A table with tessera's house style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(140)
        .set_header(header.to_vec());
    t
}

/// A table for wide listings.
pub fn wide_table(header: &[&str]) -> Table {
    let mut t = table(header);
    t.set_width(220);
    t
}

pub fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::Internal(format!("JSON encoding failed: {e}")))?;
    crate::outln!("{s}");
    Ok(())
}

pub use tessera_core::num::num;

pub fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "unknown".into(), num)
}

/// Billions with sensible precision.
pub fn billions(n: u64) -> String {
    let b = n as f64 / 1e9;
    if b >= 100.0 {
        format!("{b:.1}B")
    } else if b >= 1.0 {
        format!("{b:.2}B")
    } else {
        format!("{:.0}M", n as f64 / 1e6)
    }
}

pub fn bytes(b: f64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    if b >= GIB {
        format!("{} GiB", num(b / GIB))
    } else if b >= 1024.0 * 1024.0 {
        format!("{} MiB", num(b / 1024.0 / 1024.0))
    } else if b >= 1024.0 {
        format!("{} KiB", num(b / 1024.0))
    } else {
        format!("{} B", num(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(num(989.4), "989.4");
        assert_eq!(num(1978.9), "1,979");
        assert_eq!(num(3.35), "3.35");
        assert_eq!(num(0.864), "0.864");
        assert_eq!(num(15831.2), "15,831");
        assert_eq!(num(80.0), "80");
        assert_eq!(billions(6_738_415_616), "6.74B");
        assert_eq!(bytes(2048.0), "2 KiB");
    }
}
