//! tessera's domain types.
//!
//! This crate does no IO: no files, no network, no terminal. It holds the types every
//! other tessera crate shares (chips, figures with their sources, model architectures,
//! dates, export-control rules) and the pure arithmetic on them.

pub mod chip;
pub mod date;
pub mod export;
pub mod figure;
pub mod fleet;
pub mod model;
pub mod money;
pub mod num;
pub mod procure;
pub mod sched;
pub mod suggest;

pub use chip::{Chip, Precision, Price};
pub use date::Date;
pub use figure::{Figure, Status};
pub use model::ModelArch;
