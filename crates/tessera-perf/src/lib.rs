//! tessera's performance model.
//!
//! Pure functions over the core types: no IO, and no allocation on the estimate path,
//! because the planner evaluates millions of layouts. The model is analytic (FLOPs,
//! bytes and link bandwidths) with a small set of efficiency parameters per chip family
//! and software stack ([`calib`]), fitted to published measurements.

pub mod calib;
pub mod hw;
pub mod serve;
pub mod train;

pub use calib::{Efficiency, Stack};
pub use hw::Hardware;
pub use train::{Estimate, Layout, Recompute, TrainJob, TrainPrecision, estimate_train};
