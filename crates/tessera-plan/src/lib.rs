//! tessera's planner.
//!
//! Searches the layouts of a training or serving job on a pool of chips with the
//! performance models, combines pools of different vendors into one job where that pays,
//! and writes the launch arguments of real frameworks for the winner. Pure: no IO.

pub mod emit;
pub mod flagscale;
pub mod fleet;
pub mod launch;
pub mod mixed;
pub mod procure;
pub mod serve;
pub mod speed;
pub mod train;
pub mod whatif;
