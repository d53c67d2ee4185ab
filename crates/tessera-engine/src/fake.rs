//! An in-memory engine for tests of the server: nodes as configured, jobs that start when
//! they fit and finish when the test says so (or after a number of polls), and faults on
//! demand (unavailable, forgetting jobs, reusing ids).

use crate::{Dispatch, Engine, EngineError, EngineJob, EngineState, Node, NodeState};
use std::sync::Mutex;

#[derive(Debug, Clone)]
struct FakeJob {
    job: EngineJob,
    dispatch: Dispatch,
    /// Polls of `jobs()` left before a running job succeeds (`None`: until told).
    polls_left: Option<u32>,
    /// While it runs: (node index, chips) per node it holds.
    alloc: Vec<(usize, u32)>,
}

/// Every part of a dispatch: (target, nodes, chips per node), the first and its
/// further components.
fn parts(d: &Dispatch) -> Vec<(&crate::Target, u32, u32)> {
    std::iter::once((&d.target, d.nodes.max(1), d.chips_per_node))
        .chain(
            d.also
                .iter()
                .map(|c| (&c.target, c.nodes.max(1), c.chips_per_node)),
        )
        .collect()
}

#[derive(Debug, Default)]
struct State {
    nodes: Vec<Node>,
    jobs: Vec<FakeJob>,
    next_id: u64,
    down: bool,
    submits: u64,
    /// Launches that fail (the job is cancelled as it would start), as Slurm does when a
    /// launch fails and requeues are off.
    failing_launches: u32,
}

/// The fake engine.
#[derive(Debug, Default)]
pub struct FakeEngine {
    name: String,
    /// Polls a job runs before it succeeds by itself (`None`: until `finish`).
    run_polls: Option<u32>,
    state: Mutex<State>,
}

impl FakeEngine {
    /// An engine with these nodes; jobs run `run_polls` polls of `jobs()` and succeed
    /// (`None`: until [`FakeEngine::finish`]).
    pub fn new(name: &str, nodes: Vec<Node>, run_polls: Option<u32>) -> FakeEngine {
        FakeEngine {
            name: name.to_string(),
            run_polls,
            state: Mutex::new(State {
                nodes,
                next_id: 1,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Makes the engine unreachable (or reachable again).
    pub fn set_down(&self, down: bool) {
        self.lock().down = down;
    }

    /// Sets a node's state (a drained or failed node). A node that goes down fails the
    /// jobs running on it, as Slurm does (NODE_FAIL).
    pub fn set_node_state(&self, node: &str, s: NodeState) {
        let mut st = self.lock();
        for n in st.nodes.iter_mut().filter(|n| n.name == node) {
            n.state = s;
        }
        if s == NodeState::Down {
            for j in st.jobs.iter_mut().filter(|j| {
                j.job.state == EngineState::Running && j.job.nodes.split(',').any(|x| x == node)
            }) {
                j.job.state = EngineState::NodeFailed;
                j.job.detail = "NODE_FAIL".into();
            }
        }
        drop(st);
        self.settle();
    }

    /// Ends a job with an exit code.
    pub fn finish(&self, engine_id: &str, exit: i32) {
        let mut st = self.lock();
        if let Some(j) = st.jobs.iter_mut().find(|j| j.job.engine_id == engine_id) {
            j.job.state = if exit == 0 {
                EngineState::Succeeded
            } else {
                EngineState::Failed
            };
            j.job.exit_code = Some(exit);
        }
        drop(st);
        self.settle();
    }

    /// Forgets every job, as slurmctld does for jobs it had not saved before a crash;
    /// the next ids reuse the forgotten ones.
    pub fn forget_all(&self) {
        let mut st = self.lock();
        st.jobs.clear();
        st.next_id = 1;
    }

    /// Makes the next `n` launches fail: each job is cancelled by the engine as it would
    /// start, without running.
    pub fn fail_launches(&self, n: u32) {
        self.lock().failing_launches = n;
    }

    /// Submissions accepted so far.
    pub fn submits(&self) -> u64 {
        self.lock().submits
    }

    /// The dispatches of jobs the engine knows, with their engine state.
    pub fn dispatches(&self) -> Vec<(Dispatch, EngineState)> {
        self.lock()
            .jobs
            .iter()
            .map(|j| (j.dispatch.clone(), j.job.state))
            .collect()
    }

    /// Starts pending jobs that fit, in submission order; frees what ended.
    fn settle(&self) {
        let mut st = self.lock();
        let State {
            nodes,
            jobs,
            failing_launches,
            ..
        } = &mut *st;
        for n in nodes.iter_mut() {
            n.chips_used = 0;
        }
        for j in jobs.iter_mut() {
            if j.job.state == EngineState::Running {
                for &(i, c) in &j.alloc {
                    if let Some(n) = nodes.get_mut(i) {
                        n.chips_used += c;
                    }
                }
            } else {
                j.alloc.clear();
            }
        }
        for j in jobs
            .iter_mut()
            .filter(|j| j.job.state == EngineState::Pending)
        {
            // Every part at once (a heterogeneous job starts whole or not at all), each
            // on nodes of its partition and GRES type, never a node twice.
            let mut alloc: Vec<(usize, u32)> = Vec::new();
            let mut all = true;
            for (target, want, cpn) in parts(&j.dispatch) {
                let fit: Vec<usize> = nodes
                    .iter()
                    .enumerate()
                    .filter(|(i, n)| {
                        n.partition == target.partition
                            && n.gres_type == target.gres_type
                            && n.state == NodeState::Up
                            && n.chips - n.chips_used >= cpn
                            && !alloc.iter().any(|(k, _)| k == i)
                    })
                    .map(|(i, _)| i)
                    .take(want as usize)
                    .collect();
                if fit.len() < want as usize {
                    all = false;
                    break;
                }
                alloc.extend(fit.into_iter().map(|i| (i, cpn)));
            }
            if all && *failing_launches > 0 {
                *failing_launches -= 1;
                j.job.state = EngineState::Cancelled;
                j.job.detail = "launch failed".into();
            } else if all {
                let mut names = Vec::new();
                for &(i, c) in &alloc {
                    nodes[i].chips_used += c;
                    names.push(nodes[i].name.clone());
                }
                j.job.nodes = names.join(",");
                j.job.state = EngineState::Running;
                j.alloc = alloc;
            }
        }
    }
}

impl Engine for FakeEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn runs_gangs_across(&self) -> bool {
        true
    }

    fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let st = self.lock();
        if st.down {
            return Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message: "the fake engine is down".into(),
            });
        }
        Ok(st.nodes.clone())
    }

    fn submit(&self, d: &Dispatch) -> Result<String, EngineError> {
        let mut st = self.lock();
        if st.down {
            return Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message: "the fake engine is down".into(),
            });
        }
        let fits = parts(d).iter().all(|(target, want, cpn)| {
            st.nodes
                .iter()
                .filter(|n| {
                    n.partition == target.partition
                        && n.gres_type == target.gres_type
                        && n.chips >= *cpn
                })
                .count()
                >= *want as usize
        });
        if !fits {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: "Requested node configuration is not available".into(),
            });
        }
        let id = st.next_id.to_string();
        st.next_id += 1;
        st.submits += 1;
        let polls_left = self.run_polls;
        st.jobs.push(FakeJob {
            job: EngineJob {
                engine_id: id.clone(),
                tag: Some(d.tag),
                state: EngineState::Pending,
                detail: "PENDING".into(),
                partition: parts(d)
                    .iter()
                    .map(|(t, _, _)| t.partition.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                nodes: String::new(),
                exit_code: None,
            },
            dispatch: d.clone(),
            polls_left,
            alloc: Vec::new(),
        });
        drop(st);
        self.settle();
        Ok(id)
    }

    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError> {
        let mut st = self.lock();
        if st.down {
            return Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message: "the fake engine is down".into(),
            });
        }
        let mut ended = false;
        for j in st.jobs.iter_mut() {
            if j.job.state == EngineState::Running
                && let Some(p) = j.polls_left.as_mut()
            {
                if *p == 0 {
                    j.job.state = EngineState::Succeeded;
                    j.job.exit_code = Some(0);
                    ended = true;
                } else {
                    *p -= 1;
                }
            }
        }
        let out = st.jobs.iter().map(|j| j.job.clone()).collect();
        drop(st);
        if ended {
            self.settle();
        }
        Ok(out)
    }

    fn outcome(&self, _tag: crate::Tag) -> Option<i32> {
        None
    }

    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError> {
        let mut st = self.lock();
        if st.down {
            return Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message: "the fake engine is down".into(),
            });
        }
        match st.jobs.iter_mut().find(|j| j.job.engine_id == engine_id) {
            Some(j) => {
                j.job.detail = "SIGNALED USR1".into();
                Ok(())
            }
            None => Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("Invalid job id {engine_id}"),
            }),
        }
    }

    fn cancel(&self, engine_id: &str) -> Result<(), EngineError> {
        let mut st = self.lock();
        if st.down {
            return Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message: "the fake engine is down".into(),
            });
        }
        match st.jobs.iter_mut().find(|j| j.job.engine_id == engine_id) {
            Some(j) => {
                if !j.job.state.is_terminal() {
                    j.job.state = EngineState::Cancelled;
                }
            }
            None => {
                return Err(EngineError::Rejected {
                    engine: self.name.clone(),
                    message: format!("Invalid job id {engine_id}"),
                });
            }
        }
        drop(st);
        self.settle();
        Ok(())
    }
}
