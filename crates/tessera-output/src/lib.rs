//! tessera's public output types: what `--format json` prints (and what the HTTP API
//! will return), as types of their own with units in their key names, converted from
//! the library's types. A refactor of the performance model or the planner changes the
//! conversions here, not the JSON; a change to the JSON is a new `SCHEMA_VERSION` and a
//! line in docs/json-output.md. Snapshot tests in tessera-cli hold the shapes.
//!
//! Architecture invariant: this crate does no IO and holds no logic beyond unit
//! conversion and renaming.

pub mod catalog;
pub mod estimate;
pub mod export;
pub mod plan;
pub mod procure;
pub mod simulate;
pub mod train;
pub mod validate;

/// The version of the training output types (`schema_version` in their JSON).
pub const SCHEMA_VERSION: u32 = 1;
