//! The `tessera` command line: a thin layer over the tessera libraries.
//!
//! Exit codes (docs/exit-codes.md): 0 success, 1 internal error, 2 usage error,
//! 3 invalid input file, 4 unknown id, 5 file not readable.

mod cli;
mod cmd;
mod exit;
mod out;
mod svg;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = cmd::run(args);
    if let Err(e) = out::flush() {
        eprintln!("error: writing output: {e}");
        return ExitCode::from(exit::INTERNAL);
    }
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code())
        }
    }
}
