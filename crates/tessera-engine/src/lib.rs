//! Engines: where tessera's decisions become running jobs.
//!
//! An [`Engine`] reports its capacity (nodes with their accelerators, free or busy, up
//! or not), accepts a [`Dispatch`] (one attempt of one tessera job, as a script file and
//! a gang shape), lists the jobs it knows, and cancels them. Every dispatched job carries
//! tessera's own identity, a [`Tag`] of job id and attempt, in the engine's job name and
//! comment; an engine's job id is only a handle that is valid while the engine
//! remembers it (Slurm reuses ids after a controller crash), and reconciliation goes by
//! tag. Engines are synchronous: the server calls them off its async runtime.
//!
//! Architecture invariant: no engine builds a shell command line from user input; user
//! scripts are written to files and passed by path, and every engine command runs with
//! an argument vector.

pub mod fake;
pub mod http;
pub mod k8s;
#[cfg(feature = "kube")]
pub mod kube;
pub mod ray;
pub mod slurm;
pub mod slurmrest;

use serde::Serialize;
use std::path::PathBuf;

/// tessera's identity of one dispatched attempt: the server instance (a random id its
/// state database is created with, so two tessera databases never mistake each other's
/// jobs), the job id and the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Tag {
    pub instance: u32,
    pub job: u64,
    pub attempt: u32,
}

impl Tag {
    /// The engine job name: `tessera-<instance hex>-<job>-<attempt>`.
    pub fn name(self) -> String {
        format!(
            "tessera-{:08x}-{}-{}",
            self.instance, self.job, self.attempt
        )
    }

    /// The engine job comment: `tessera:<instance hex>:<job>:<attempt>`.
    pub fn comment(self) -> String {
        format!(
            "tessera:{:08x}:{}:{}",
            self.instance, self.job, self.attempt
        )
    }

    /// Reads a tag from an engine job's comment (preferred) or name; `None` for jobs
    /// tessera did not submit.
    pub fn parse(comment: &str, name: &str) -> Option<Tag> {
        let three = |parts: Vec<&str>| -> Option<Tag> {
            let [i, j, a] = parts.as_slice() else {
                return None;
            };
            if i.len() != 8 {
                return None;
            }
            Some(Tag {
                instance: u32::from_str_radix(i, 16).ok()?,
                job: j.parse().ok()?,
                attempt: a.parse().ok()?,
            })
        };
        if let Some(rest) = comment.trim().strip_prefix("tessera:") {
            return three(rest.split(':').collect());
        }
        three(name.trim().strip_prefix("tessera-")?.split('-').collect())
    }
}

/// Where a dispatch goes in the engine: for Slurm, a partition and a GRES type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    pub partition: String,
    /// The GRES type of the pool's accelerators (`ascend910b` in `gpu:ascend910b`).
    pub gres_type: String,
    /// The GRES name (`gpu` for every vendor on the reference cluster).
    pub gres_name: String,
    /// The variable the pool's chips are selected by (`XPU_VISIBLE_DEVICES` for Kunlun),
    /// from the catalog: set by an engine that hands out device indices itself (Ray's
    /// custom resources); engines whose device plugins set it ignore it.
    pub visible_devices_env: Option<String>,
}

/// One attempt of one job, ready for an engine.
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub tag: Tag,
    pub target: Target,
    /// Nodes of the gang, and accelerators on each.
    pub nodes: u32,
    pub chips_per_node: u32,
    /// The job's script body (run by bash).
    pub script: String,
    /// Extra environment for the job (tessera's ids, the planned layout).
    pub env: Vec<(String, String)>,
    /// Seconds of warning before a cancel kills the job (a checkpoint signal, SIGUSR1),
    /// 0 for none.
    pub grace_s: u32,
    /// Earlier attempts of this job that tessera declared lost (the engine no longer
    /// knew them and they left no outcome): their processes may still be running, and
    /// may still finish. An engine that can must start this attempt's script only after
    /// every earlier attempt's process has ended, and not at all if one of these ended
    /// with success (see [`Engine::finished_by`]).
    pub lost_attempts: Vec<u32>,
    /// Further parts of one gang across pools (a job placed across two chip types): each
    /// with its own target and shape, started together with the first as one engine job
    /// (a Slurm heterogeneous job) that the script, run once, spans. Empty for a job on
    /// one pool. Engines that cannot start such a job ([`Engine::runs_gangs_across`])
    /// reject it.
    pub also: Vec<Component>,
}

/// One further part of a gang across pools.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub target: Target,
    pub nodes: u32,
    pub chips_per_node: u32,
}

/// What an engine says of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EngineState {
    Pending,
    /// Pending, and it will not start without someone's intervention (Slurm holds a job
    /// whose launch failed, or one held by an operator).
    Held,
    Running,
    /// Finished with exit code 0.
    Succeeded,
    /// Finished otherwise (non-zero exit, node failure, timeout, bad request).
    Failed,
    Cancelled,
    /// Ended by the engine, not by the job: its node failed (Slurm's NODE_FAIL,
    /// BOOT_FAIL), or Slurm requeued it by itself and the wrapper ran nothing. Not the
    /// job's fault, so the scheduler runs it again as a new attempt.
    NodeFailed,
}

impl EngineState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            EngineState::Succeeded
                | EngineState::Failed
                | EngineState::Cancelled
                | EngineState::NodeFailed
        )
    }
}

/// A job the engine knows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineJob {
    /// The engine's own handle (Slurm job id): valid only while the engine remembers it.
    pub engine_id: String,
    /// tessera's identity, if tessera submitted it.
    pub tag: Option<Tag>,
    pub state: EngineState,
    /// The engine's reason or state word, verbatim (for operators).
    pub detail: String,
    pub partition: String,
    /// Node names, as the engine prints them (a hostlist for Slurm).
    pub nodes: String,
    /// Exit code, where known.
    pub exit_code: Option<i32>,
}

/// Whether a node can take work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NodeState {
    /// Idle, mixed or allocated: it counts towards capacity.
    Up,
    /// Drained or draining: no new work.
    Drained,
    /// Down, failing or not responding.
    Down,
}

/// One node of a partition, with its accelerators of one GRES type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub partition: String,
    pub gres_name: String,
    pub gres_type: String,
    pub chips: u32,
    pub chips_used: u32,
    pub state: NodeState,
}

/// Engine failures. A job the engine refuses for its shape is `Rejected`; an engine that
/// cannot be reached is `Unavailable` (the server retries with backoff and reports it
/// unhealthy).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{engine} is unavailable: {message}")]
    Unavailable { engine: String, message: String },
    #[error("{engine} rejected the job: {message}")]
    Rejected { engine: String, message: String },
    #[error("{engine} printed output tessera cannot read: {message}")]
    Protocol { engine: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// An engine the live scheduler dispatches to.
pub trait Engine: Send + Sync {
    /// The engine's name in the server's configuration.
    fn name(&self) -> &str;
    /// Nodes and their accelerators, as the engine sees them now.
    fn nodes(&self) -> Result<Vec<Node>, EngineError>;
    /// Submits one attempt; returns the engine's handle.
    fn submit(&self, d: &Dispatch) -> Result<String, EngineError>;
    /// Every job the engine still knows, tessera's (tagged) and others.
    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError>;
    /// The exit code an attempt recorded, for an attempt the engine no longer lists
    /// (Slurm forgets finished jobs after `MinJobAge`); `None`: no record, so the
    /// attempt never finished (it was lost, or never started).
    fn outcome(&self, tag: Tag) -> Option<i32>;
    /// For an attempt that ended with success without running the job's script because
    /// an earlier, lost attempt had finished it: that attempt's number.
    fn finished_by(&self, _tag: Tag) -> Option<u32> {
        None
    }
    /// Sends the job's processes the checkpoint signal (SIGUSR1); the caller waits the
    /// job's grace period before it cancels.
    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError>;
    /// Cancels a job by the engine's handle.
    fn cancel(&self, engine_id: &str) -> Result<(), EngineError>;
    /// Whether it starts one job across several targets at once ([`Dispatch::also`]).
    fn runs_gangs_across(&self) -> bool {
        false
    }
    /// Drops a finished job from the engine's own records (Ray keeps every job until
    /// deleted). The server calls it once the attempt's end is durable in its store and
    /// the engine still lists the job; engines that forget by themselves do nothing.
    fn forget(&self, _engine_id: &str) -> Result<(), EngineError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_through_name_and_comment() {
        let t = Tag {
            instance: 0xdead_beef,
            job: 42,
            attempt: 3,
        };
        assert_eq!(t.name(), "tessera-deadbeef-42-3");
        assert_eq!(Tag::parse(&t.comment(), "x"), Some(t));
        assert_eq!(Tag::parse("(null)", &t.name()), Some(t));
        assert_eq!(Tag::parse("(null)", "wrap"), None);
        assert_eq!(Tag::parse("tessera:x:1:1", "tessera-00000001-1-1"), None);
        assert_eq!(Tag::parse("", "tessera-00000001-7-"), None);
        assert_eq!(
            Tag::parse("", "tessera-1-7-1"),
            None,
            "the instance has 8 digits"
        );
    }
}
