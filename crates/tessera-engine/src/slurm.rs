//! Slurm through its command-line tools: `sbatch --parsable`, `squeue`, `sinfo`,
//! `scancel`. Every command runs with an argument vector (no shell); a job's script is a
//! file in the engine's spool directory. The job's name and comment carry tessera's
//! [`Tag`]; its exit code is also written to `<spool>/<job>-<attempt>.exit` by the
//! wrapper script, so that an outcome survives Slurm forgetting the job (`MinJobAge`)
//! on clusters without accounting.
//!
//! Checked against slurm-wlm 22.05.8 (Debian 12) on the single-host cluster of
//! `tools/slurm-local`.

use crate::{Dispatch, Engine, EngineError, EngineJob, EngineState, Node, NodeState, Tag};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Field separator in the squeue and sinfo formats tessera asks for.
const SEP: char = '|';

/// Whether the cluster keeps accounting (`sacct` works), found on first use.
#[derive(Debug, Default)]
struct Accounting(std::sync::OnceLock<bool>);

impl Clone for Accounting {
    fn clone(&self) -> Self {
        let a = Accounting::default();
        if let Some(&v) = self.0.get() {
            let _ = a.0.set(v);
        }
        a
    }
}

/// The sacct fields tessera reads.
pub const SACCT_FORMAT: &str = "JobID,JobName,State,ExitCode,Comment";

/// What `sacct` says of one tagged job: its final state and exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SacctRecord {
    pub engine_id: String,
    pub tag: Option<Tag>,
    pub state: EngineState,
    pub exit_code: Option<i32>,
}

/// Reads `sacct -n -P -X -o SACCT_FORMAT` output (`|`-separated; `ExitCode` as
/// `code:signal`). A line of another shape or an unknown state is an error naming it.
pub fn parse_sacct(out: &str) -> Result<Vec<SacctRecord>, String> {
    let mut v = Vec::new();
    for (n, line) in out.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(SEP).collect();
        if f.len() != 5 {
            return Err(format!(
                "sacct line {}: expected 5 fields separated by '|', found {}: `{line}`",
                n + 1,
                f.len()
            ));
        }
        // "CANCELLED by 0" carries the canceller.
        let word = f[2].split_whitespace().next().unwrap_or("");
        let state = job_state(word)
            .ok_or_else(|| format!("sacct line {}: unknown job state `{}`", n + 1, f[2]))?;
        let exit_code = f[3].split(':').next().and_then(|c| c.trim().parse().ok());
        v.push(SacctRecord {
            engine_id: f[0].trim().to_string(),
            tag: Tag::parse(f[4], f[1]),
            state,
            exit_code,
        });
    }
    Ok(v)
}

/// How to reach a Slurm cluster.
#[derive(Debug, Clone)]
pub struct SlurmEngine {
    name: String,
    /// `SLURM_CONF` for the tools; `None`: the environment's.
    conf: Option<PathBuf>,
    /// Directory of the Slurm tools; `None`: found on PATH.
    bin: Option<PathBuf>,
    /// Where scripts, outputs and exit files go (must be visible to the compute nodes).
    spool: PathBuf,
    accounting: Accounting,
}

impl SlurmEngine {
    pub fn new(name: &str, conf: Option<PathBuf>, bin: Option<PathBuf>, spool: PathBuf) -> Self {
        SlurmEngine {
            name: name.to_string(),
            conf,
            bin,
            spool,
            accounting: Accounting::default(),
        }
    }

    /// Whether the cluster keeps accounting: `sacct` answers (asked once; a cluster
    /// without it prints "Slurm accounting storage is disabled").
    pub fn has_accounting(&self) -> bool {
        if let Some(&v) = self.accounting.0.get() {
            return v;
        }
        let mut c = self.tool("sacct");
        c.args(["-n", "-X", "-j", "1", "-o", "JobID"]);
        let Ok(o) = c.output() else { return false };
        let definite = if o.status.success() {
            Some(true)
        } else if String::from_utf8_lossy(&o.stderr).contains("accounting storage is disabled") {
            Some(false)
        } else {
            None // slurmdbd unreachable now: ask again next time
        };
        if let Some(v) = definite {
            let _ = self.accounting.0.set(v);
        }
        definite.unwrap_or(false)
    }

    /// What accounting recorded of an attempt's engine job, when the cluster keeps it:
    /// the newest record whose tag is this one.
    pub fn sacct(&self, tag: Tag) -> Option<SacctRecord> {
        if !self.has_accounting() {
            return None;
        }
        let mut c = self.tool("sacct");
        c.args(["-n", "-P", "-X", "-S", "2000-01-01", "-o", SACCT_FORMAT])
            .arg(format!("--name={}", tag.name()));
        let out = self.run(c, |_| false).ok()?;
        parse_sacct(&out)
            .ok()?
            .into_iter()
            .filter(|r| r.tag == Some(tag))
            .max_by_key(|r| {
                // A heterogeneous job's components are `N+0`, `N+1`, ...
                let id = r.engine_id.split('+').next().unwrap_or("");
                id.parse::<u64>().unwrap_or(0)
            })
    }

    fn tool(&self, tool: &str) -> Command {
        let mut c = match &self.bin {
            Some(b) => Command::new(b.join(tool)),
            None => Command::new(tool),
        };
        if let Some(conf) = &self.conf {
            c.env("SLURM_CONF", conf);
        }
        // A token in the environment switches the clients to JWT, which slurmd rejects
        // for job launches (shared/engines notes, gotcha 5).
        c.env_remove("SLURM_JWT");
        c
    }

    /// Runs a tool and returns its stdout; a failure to start or a non-zero exit is
    /// `Unavailable` unless `classify` says the engine rejected the request.
    fn run(&self, mut c: Command, classify: impl Fn(&str) -> bool) -> Result<String, EngineError> {
        let what = format!("{:?}", c.get_program());
        let out = c.output().map_err(|e| EngineError::Unavailable {
            engine: self.name.clone(),
            message: format!("cannot run {what}: {e}"),
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let message = format!("{what} exited with {}: {stderr}", out.status);
        if classify(&stderr) {
            Err(EngineError::Rejected {
                engine: self.name.clone(),
                message,
            })
        } else {
            Err(EngineError::Unavailable {
                engine: self.name.clone(),
                message,
            })
        }
    }

    /// The spool file of an attempt with the given extension.
    pub fn spool_file(&self, tag: Tag, ext: &str) -> PathBuf {
        self.spool.join(format!(
            "{:08x}-{}-{}.{ext}",
            tag.instance, tag.job, tag.attempt
        ))
    }

    /// The spool directory.
    pub fn spool_dir(&self) -> &Path {
        &self.spool
    }

    /// Completes what the engine listed with what the spool knows: a finished job's exit
    /// code, and an attempt Slurm requeued by itself (the wrapper's `.requeued` marker)
    /// as ended by the engine.
    pub fn settle(&self, j: &mut EngineJob) {
        let Some(t) = j.tag else { return };
        if !j.state.is_terminal() {
            return;
        }
        if self.spool_file(t, "requeued").exists() {
            j.state = EngineState::NodeFailed;
            j.detail = format!(
                "{}; Slurm requeued the attempt by itself and the wrapper ran nothing",
                j.detail
            );
            return;
        }
        j.exit_code = self.exit_code(t);
    }

    /// What the spool says of an attempt Slurm no longer lists: its exit code.
    pub fn spool_outcome(&self, tag: Tag) -> Option<i32> {
        if self.spool_file(tag, "requeued").exists() {
            return None;
        }
        self.exit_code(tag)
    }

    /// The outcome of an attempt squeue no longer lists: the exit file, else what
    /// accounting recorded when the cluster keeps it. A job that ended without running
    /// to its end by its own doing (a timeout or out-of-memory kill that left no exit
    /// file) gets its exit code from sacct, or 1; one that ended by the engine (node
    /// failure, cancelled) has none, so the caller treats it as lost.
    pub fn outcome_with_accounting(&self, tag: Tag) -> Option<i32> {
        if let Some(c) = self.spool_outcome(tag) {
            return Some(c);
        }
        if self.spool_file(tag, "requeued").exists() {
            return None;
        }
        let r = self.sacct(tag)?;
        match r.state {
            EngineState::Succeeded => Some(0),
            EngineState::Failed => Some(r.exit_code.filter(|&c| c != 0).unwrap_or(1)),
            _ => None,
        }
    }

    /// The attempt that finished the job for this one, if this one ran nothing.
    pub fn finished_by(&self, tag: Tag) -> Option<u32> {
        let p = self.spool_file(tag, "finished-by");
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    /// The exit code the wrapper wrote for an attempt, if it finished.
    pub fn exit_code(&self, tag: Tag) -> Option<i32> {
        let p = self.spool_file(tag, "exit");
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }
}

/// The files of one attempt in the spool directory.
#[derive(Debug, Clone)]
pub struct AttemptFiles {
    /// The job's own script.
    pub user: PathBuf,
    /// Its exit code, written when it ends.
    pub exit: PathBuf,
    /// One per job (not per attempt): held by an attempt's wrapper while it runs.
    pub lock: PathBuf,
    /// Written instead of running the script when a lost attempt had finished the job.
    pub finished_by: PathBuf,
    /// Written when Slurm requeued the attempt by itself (the wrapper then runs nothing).
    pub requeued: PathBuf,
    /// The exit files of the attempts tessera declared lost.
    pub lost_exits: Vec<(u32, PathBuf)>,
}

impl SlurmEngine {
    /// The spool files of a dispatch.
    pub fn attempt_files(&self, d: &Dispatch) -> AttemptFiles {
        let at = |attempt| Tag { attempt, ..d.tag };
        AttemptFiles {
            user: self.spool_file(d.tag, "user.sh"),
            exit: self.spool_file(d.tag, "exit"),
            lock: self
                .spool
                .join(format!("{:08x}-{}.lock", d.tag.instance, d.tag.job)),
            finished_by: self.spool_file(d.tag, "finished-by"),
            requeued: self.spool_file(d.tag, "requeued"),
            lost_exits: d
                .lost_attempts
                .iter()
                .map(|&a| (a, self.spool_file(at(a), "exit")))
                .collect(),
        }
    }
}

/// Exit code of a wrapper that could not take its job's lock.
pub const LOCK_FAILED_EXIT: i32 = 97;

/// Exit code of a wrapper Slurm started again under the same attempt (a requeue).
pub const REQUEUED_EXIT: i32 = 98;

/// The batch script for a dispatch: tessera's variables; the job's lock, so that no two
/// attempts of one job ever run at once (an attempt Slurm forgot across a controller
/// crash can still be running); the exit files of the lost attempts, so that a job one
/// of them finished is not run again; the user's script run by bash from its own file;
/// and its exit code written atomically next to it.
pub fn wrapper_script(d: &Dispatch, f: &AttemptFiles) -> String {
    let run = format!(
        "bash {} 9>&-\nrc=$?\n",
        shell_quote(&f.user.display().to_string())
    );
    wrapper_with(d, f, "", &run)
}

/// The wrapper with engine-specific lines: `preamble` runs first (after the exports),
/// `run` starts the job's own script (with fd 9, the lock, closed) and leaves its exit
/// status in `rc`.
pub(crate) fn wrapper_with(d: &Dispatch, f: &AttemptFiles, preamble: &str, run: &str) -> String {
    let q = |p: &Path| shell_quote(&p.display().to_string());
    let mut s = String::from(
        "#!/bin/bash\n# written by tessera; the job's own script is beside it\n\
         # the checkpoint signal is for the job's script, not for this wrapper\n\
         trap 'true' USR1\n",
    );
    for (k, v) in &d.env {
        s.push_str(&format!("export {}={}\n", k, shell_quote(v)));
    }
    s.push_str(preamble);
    let exit = q(&f.exit);
    let lock = q(&f.lock);
    // Slurm reruns a job it requeued (after a node or launch failure) under the same id
    // and tag; new attempts are tessera's to start, so a rerun runs nothing.
    s.push_str(&format!(
        "if [ \"${{SLURM_RESTART_COUNT:-0}}\" != 0 ]; then\n  \
         echo \"tessera: Slurm requeued this attempt (restart $SLURM_RESTART_COUNT); tessera starts new attempts itself\" >&2\n  \
         : > {rq}\n  exit {REQUEUED_EXIT}\nfi\n",
        rq = q(&f.requeued)
    ));
    // flock killed by a signal (a checkpoint signal while it waits) is tried again;
    // any other failure ends the attempt: running unfenced could run the job twice.
    s.push_str(&format!(
        "# one attempt of this job at a time: wait for an earlier one still running\n\
         exec 9>>{lock} || exit {LOCK_FAILED_EXIT}\n\
         until flock 9; do\n  rc=$?\n  if [ \"$rc\" -lt 128 ]; then\n    \
         echo \"tessera: cannot lock \"{lock}\" (flock exit $rc); the spool must support flock\" >&2\n    \
         exit {LOCK_FAILED_EXIT}\n  fi\ndone\n"
    ));
    for (a, path) in &f.lost_exits {
        s.push_str(&format!(
            "if [ \"$(cat {p} 2>/dev/null)\" = 0 ]; then\n  \
             echo \"tessera: attempt {a}, which the engine lost, finished this job; not running it again\"\n  \
             echo {a} > {fb}.tmp && mv {fb}.tmp {fb}\n  \
             echo 0 > {exit}.tmp && mv {exit}.tmp {exit}\n  exit 0\nfi\n",
            p = q(path),
            fb = q(&f.finished_by),
        ));
    }
    // The job's script does not inherit the lock: a process it leaves behind must not
    // hold up the job's next attempt.
    s.push_str(run);
    s.push_str(&format!(
        "echo \"$rc\" > {exit}.tmp && mv {exit}.tmp {exit}\nexit \"$rc\"\n"
    ));
    s
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_env_name(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// A string as one single-quoted shell word.
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The job id in `sbatch --parsable` output (`id` or `id;cluster`).
pub fn parse_sbatch(out: &str) -> Option<String> {
    let line = out.lines().map(str::trim).find(|l| !l.is_empty())?;
    let id = line.split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit() || c == '_')).then(|| id.to_string())
}

/// The squeue format tessera reads: id, name, state, comment, nodes, partition, reason.
pub const SQUEUE_FORMAT: &str = "%i|%j|%T|%k|%N|%P|%r";

/// Slurm's job state words in tessera's terms (`None`: a word tessera does not know).
pub fn job_state(word: &str) -> Option<EngineState> {
    Some(match word {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD" | "RESIZING"
        | "SUSPENDED" | "STOPPED" | "SPECIAL_EXIT" | "SIGNALING" => EngineState::Pending,
        "RUNNING" | "COMPLETING" | "STAGE_OUT" => EngineState::Running,
        "COMPLETED" => EngineState::Succeeded,
        "FAILED" | "DEADLINE" | "OUT_OF_MEMORY" | "TIMEOUT" | "PREEMPTED" | "REVOKED" => {
            EngineState::Failed
        }
        "NODE_FAIL" | "BOOT_FAIL" => EngineState::NodeFailed,
        "CANCELLED" => EngineState::Cancelled,
        _ => return None,
    })
}

/// Reads `squeue -h --states=all -o SQUEUE_FORMAT` output. A line that does not have
/// the format's seven fields, or a state word tessera does not know, is an error naming
/// the line.
pub fn parse_squeue(out: &str) -> Result<Vec<EngineJob>, String> {
    let mut jobs = Vec::new();
    for (n, line) in out.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(SEP).collect();
        if f.len() != 7 {
            return Err(format!(
                "squeue line {}: expected 7 fields separated by '|', found {}: `{line}`",
                n + 1,
                f.len()
            ));
        }
        let mut state = job_state(f[2].trim())
            .ok_or_else(|| format!("squeue line {}: unknown job state `{}`", n + 1, f[2].trim()))?;
        // Reasons of a job that waits for an operator: JobHeldAdmin, JobHeldUser, and
        // "launch failed requeued held" (after a failed launch, e.g. a duplicate job id
        // on a node once slurmctld reused an id it had purged).
        let reason = f[6].trim();
        if state == EngineState::Pending
            && (reason.starts_with("JobHeld") || reason.contains("requeued held"))
        {
            state = EngineState::Held;
        }
        let field = |s: &str| {
            let s = s.trim();
            if s == "(null)" {
                String::new()
            } else {
                s.to_string()
            }
        };
        jobs.push(EngineJob {
            engine_id: f[0].trim().to_string(),
            tag: Tag::parse(&field(f[3]), f[1]),
            state,
            detail: format!("{} {}", f[2].trim(), field(f[6]))
                .trim()
                .to_string(),
            partition: f[5].trim().to_string(),
            nodes: field(f[4]),
            exit_code: None,
        });
    }
    Ok(jobs)
}

/// One job per heterogeneous job: squeue lists each component as `N+K` with the job's
/// name and comment; they become one job `N` (the handle scancel takes), with every
/// component's partition (`a+b`) and nodes, in the state of the whole: failed if any
/// part failed (a node failure first, then a failure, then a cancel), succeeded when
/// all did, running when every part runs or is done, held if any is held, else
/// pending. Other jobs pass as they are, in order.
pub fn merge_components(jobs: Vec<EngineJob>) -> Vec<EngineJob> {
    let mut out: Vec<EngineJob> = Vec::with_capacity(jobs.len());
    let mut parts: Vec<Vec<EngineJob>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for j in jobs {
        let component = j
            .engine_id
            .split_once('+')
            .filter(|(lead, k)| !lead.is_empty() && k.parse::<u32>().is_ok())
            .map(|(lead, _)| lead.to_string());
        let Some(lead) = component else {
            out.push(j);
            parts.push(Vec::new());
            continue;
        };
        match at.get(&lead) {
            Some(&i) => parts[i].push(j),
            None => {
                at.insert(lead.clone(), out.len());
                let mut first = j.clone();
                first.engine_id = lead;
                out.push(first);
                parts.push(vec![j]);
            }
        }
    }
    for (j, mut ps) in out.iter_mut().zip(parts) {
        if ps.is_empty() {
            continue;
        }
        ps.sort_by_key(|p| {
            p.engine_id
                .split_once('+')
                .and_then(|(_, k)| k.parse::<u32>().ok())
                .unwrap_or(0)
        });
        let has = |s: EngineState| ps.iter().any(|p| p.state == s);
        let state = if has(EngineState::NodeFailed) {
            EngineState::NodeFailed
        } else if has(EngineState::Failed) {
            EngineState::Failed
        } else if has(EngineState::Cancelled) {
            EngineState::Cancelled
        } else if ps.iter().all(|p| p.state == EngineState::Succeeded) {
            EngineState::Succeeded
        } else if ps
            .iter()
            .all(|p| matches!(p.state, EngineState::Running | EngineState::Succeeded))
        {
            EngineState::Running
        } else if has(EngineState::Held) {
            EngineState::Held
        } else {
            EngineState::Pending
        };
        let join = |f: &dyn Fn(&EngineJob) -> &str, sep: &str| -> String {
            ps.iter()
                .map(f)
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
                .join(sep)
        };
        *j = EngineJob {
            engine_id: j.engine_id.clone(),
            tag: ps[0].tag,
            state,
            detail: join(&|p| p.detail.as_str(), " + "),
            partition: join(&|p| p.partition.as_str(), "+"),
            nodes: join(&|p| p.nodes.as_str(), ","),
            exit_code: ps[0].exit_code,
        };
    }
    out
}

/// The sinfo format tessera reads: node, partition, GRES, GRES used, state.
pub const SINFO_FIELDS: &str = "NodeList:|,Partition:|,Gres:|,GresUsed:|,StateLong:|";

/// A node state word (`StateLong`, with its `*`, `~`, `#`, `!`, `%`, `$`, `@`, `^`, `-`
/// flags) in tessera's terms.
pub fn node_state(word: &str) -> NodeState {
    let w = word
        .trim()
        .trim_end_matches(['*', '~', '#', '!', '%', '$', '@', '^', '-']);
    let w = w.to_ascii_lowercase();
    if w.starts_with("drain") {
        NodeState::Drained
    } else if matches!(
        w.as_str(),
        "idle" | "mixed" | "allocated" | "alloc" | "mix" | "completing" | "planned" | "reserved"
    ) {
        NodeState::Up
    } else {
        NodeState::Down
    }
}

/// `gpu:a800:8` or `gpu:a800:8(S:0-1)` → ("gpu", "a800", 8); GRES of other shapes
/// (untyped, several kinds) give `None` for that entry. The first typed GRES wins.
pub(crate) fn gres_entry(s: &str) -> Option<(String, String, u32)> {
    for part in s.split(',') {
        let part = part.split('(').next()?.trim();
        let f: Vec<&str> = part.split(':').collect();
        if f.len() == 3
            && let Ok(n) = f[2].parse()
        {
            return Some((f[0].to_string(), f[1].to_string(), n));
        }
    }
    None
}

/// Reads `sinfo -N -h -O SINFO_FIELDS` output: one row per node and partition. Nodes
/// without typed GRES are skipped (they hold no accelerators tessera schedules).
pub fn parse_sinfo(out: &str) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    for (n, line) in out.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(SEP).collect();
        // `-O` with a `|` suffix ends each field with one, so six pieces, the last empty.
        if f.len() < 5 {
            return Err(format!(
                "sinfo line {}: expected 5 fields separated by '|', found {}: `{line}`",
                n + 1,
                f.len()
            ));
        }
        let Some((gres_name, gres_type, chips)) = gres_entry(f[2]) else {
            continue;
        };
        let used = gres_entry(f[3]).map_or(0, |(_, _, u)| u);
        nodes.push(Node {
            name: f[0].trim().to_string(),
            partition: f[1].trim().trim_end_matches('*').to_string(),
            gres_name,
            gres_type,
            chips,
            chips_used: used.min(chips),
            state: node_state(f[4]),
        });
    }
    Ok(nodes)
}

impl Engine for SlurmEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn nodes(&self) -> Result<Vec<Node>, EngineError> {
        let mut c = self.tool("sinfo");
        c.args(["-N", "-h", "-O", SINFO_FIELDS]);
        let out = self.run(c, |_| false)?;
        parse_sinfo(&out).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })
    }

    fn submit(&self, d: &Dispatch) -> Result<String, EngineError> {
        let io = |path: &Path, source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some((k, _)) = d.env.iter().find(|(k, _)| !valid_env_name(k)) {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("`{k}` is not a valid environment variable name"),
            });
        }
        std::fs::create_dir_all(&self.spool).map_err(|e| io(&self.spool, e))?;
        let files = self.attempt_files(d);
        let batch = self.spool_file(d.tag, "sbatch.sh");
        let output = self.spool_file(d.tag, "out");
        std::fs::write(&files.user, &d.script).map_err(|e| io(&files.user, e))?;
        std::fs::write(&batch, wrapper_script(d, &files)).map_err(|e| io(&batch, e))?;
        let mut c = self.tool("sbatch");
        // tessera, not Slurm, runs a job again: a job Slurm requeued by itself (after a
        // node failure or a launch failure) would run a second time under an attempt
        // tessera already counts as ended.
        c.arg("--parsable")
            .arg("--no-requeue")
            .arg(format!("--job-name={}", d.tag.name()))
            .arg(format!("--comment={}", d.tag.comment()))
            .arg(format!("--partition={}", d.target.partition))
            .arg(format!("--nodes={}", d.nodes.max(1)))
            .arg(format!(
                "--gres={}:{}:{}",
                d.target.gres_name, d.target.gres_type, d.chips_per_node
            ))
            .arg(format!("--output={}", output.display()))
            .arg(format!("--chdir={}", self.spool.display()));
        if d.grace_s > 0 {
            c.arg(format!("--signal=B:USR1@{}", d.grace_s));
        }
        // A gang across pools: a heterogeneous job, one component per further part
        // (`sbatch OPTIONS : OPTIONS script`); the batch script runs once, on the first
        // component's first node, and reaches the others with `srun --het-group`.
        for part in &d.also {
            c.arg(":")
                .arg(format!("--partition={}", part.target.partition))
                .arg(format!("--nodes={}", part.nodes.max(1)))
                .arg(format!(
                    "--gres={}:{}:{}",
                    part.target.gres_name, part.target.gres_type, part.chips_per_node
                ));
        }
        c.arg(&batch);
        // sbatch's own refusals (a shape no node can hold, an unknown partition or GRES)
        // are the request's fault; anything else (no controller) is the engine's.
        let out = self.run(c, |e| {
            e.contains("Requested node configuration is not available")
                || e.contains("Invalid partition")
                || e.contains("Invalid generic resource")
                || e.contains("Invalid gres")
        })?;
        parse_sbatch(&out).ok_or_else(|| EngineError::Protocol {
            engine: self.name.clone(),
            message: format!("sbatch --parsable printed `{}`", out.trim()),
        })
    }

    fn runs_gangs_across(&self) -> bool {
        true
    }

    fn jobs(&self) -> Result<Vec<EngineJob>, EngineError> {
        let mut c = self.tool("squeue");
        c.args(["-h", "--states=all", "-o", SQUEUE_FORMAT]);
        let out = self.run(c, |_| false)?;
        let jobs = parse_squeue(&out).map_err(|message| EngineError::Protocol {
            engine: self.name.clone(),
            message,
        })?;
        let mut jobs = merge_components(jobs);
        for j in &mut jobs {
            self.settle(j);
        }
        Ok(jobs)
    }

    fn outcome(&self, tag: Tag) -> Option<i32> {
        self.outcome_with_accounting(tag)
    }

    fn finished_by(&self, tag: Tag) -> Option<u32> {
        SlurmEngine::finished_by(self, tag)
    }

    fn signal_checkpoint(&self, engine_id: &str) -> Result<(), EngineError> {
        self.check_id(engine_id)?;
        // --full: the batch shell and its children too (the job's own script is one).
        let mut c = self.tool("scancel");
        c.args(["--full", "--signal=USR1", engine_id]);
        self.run(c, |e| e.contains("Invalid job id")).map(|_| ())
    }

    fn cancel(&self, engine_id: &str) -> Result<(), EngineError> {
        self.check_id(engine_id)?;
        let mut c = self.tool("scancel");
        c.arg(engine_id);
        self.run(c, |e| e.contains("Invalid job id")).map(|_| ())
    }
}

impl SlurmEngine {
    fn check_id(&self, engine_id: &str) -> Result<(), EngineError> {
        if engine_id.is_empty() || !engine_id.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return Err(EngineError::Rejected {
                engine: self.name.clone(),
                message: format!("`{engine_id}` is not a Slurm job id"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sbatch_squeue_and_sinfo() {
        assert_eq!(parse_sbatch("17\n").as_deref(), Some("17"));
        assert_eq!(parse_sbatch("17;cluster\n").as_deref(), Some("17"));
        assert_eq!(parse_sbatch("Submitted batch job 17"), None);
        assert_eq!(parse_sbatch(""), None);
        // Lines as slurm-wlm 22.05.8 printed them on tools/slurm-local.
        let q = "1|tessera-0000000a-1-1|COMPLETED|tessera:0000000a:1:1|n-ascend|huawei|None\n\
                 3|wrap|FAILED|(null)||huawei|BadConstraints\n\
                 2|x|RUNNING|(null)|n-a800|nvidia|None\n";
        let j = parse_squeue(q).unwrap_or_default();
        assert_eq!(j.len(), 3);
        assert_eq!(
            j[0].tag,
            Some(Tag {
                instance: 10,
                job: 1,
                attempt: 1
            })
        );
        assert_eq!(j[0].state, EngineState::Succeeded);
        assert_eq!(j[1].tag, None);
        assert_eq!(j[1].state, EngineState::Failed);
        assert_eq!(j[1].detail, "FAILED BadConstraints");
        assert_eq!(j[2].nodes, "n-a800");
        assert!(parse_squeue("1|x|WEIRD|a|b|c|d").is_err());
        let held = parse_squeue("44|x|PENDING|(null)||nvidia|launch failed requeued held")
            .unwrap_or_default();
        assert_eq!(held[0].state, EngineState::Held);
        let nf = parse_squeue("45|x|NODE_FAIL|(null)|n1|nvidia|None").unwrap_or_default();
        assert_eq!(nf[0].state, EngineState::NodeFailed);
        assert!(parse_squeue("1|x|RUNNING").is_err());
        let s = "n-a800|nvidia|gpu:a800:8|gpu:a800:3(IDX:0-2)|mixed|\n\
                 n-kunlun|baidu|gpu:p800:8|gpu:p800:0(IDX:N/A)|drained|\n\
                 n-cpu|all*|(null)|gpu:0|idle|\n\
                 n-ascend|all*|gpu:ascend910b:8(S:0-1)|gpu:ascend910b:0(IDX:N/A)|down*|\n";
        let n = parse_sinfo(s).unwrap_or_default();
        assert_eq!(n.len(), 3);
        assert_eq!(
            (n[0].chips, n[0].chips_used, n[0].state),
            (8, 3, NodeState::Up)
        );
        assert_eq!(n[1].state, NodeState::Drained);
        assert_eq!(n[2].partition, "all");
        assert_eq!(n[2].state, NodeState::Down);
        assert_eq!(n[2].gres_type, "ascend910b");
        assert!(parse_sinfo("a|b").is_err());
    }

    #[test]
    fn reads_sacct() {
        let out = "41|tessera-0000000a-3-1|TIMEOUT|0:15|tessera:0000000a:3:1\n\
                   42|tessera-0000000a-3-2|CANCELLED by 0|0:15|tessera:0000000a:3:2\n\
                   43|tessera-0000000a-4-1|FAILED|7:0|tessera:0000000a:4:1\n\
                   44|other|COMPLETED|0:0|\n";
        let r = parse_sacct(out).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!((r[0].state, r[0].exit_code), (EngineState::Failed, Some(0)));
        assert_eq!(r[1].state, EngineState::Cancelled);
        assert_eq!(
            (r[2].tag.map(|t| t.job), r[2].exit_code),
            (Some(4), Some(7))
        );
        assert_eq!((r[3].tag, r[3].state), (None, EngineState::Succeeded));
        assert!(parse_sacct("1|x|SOMETHING|0:0|").is_err());
        assert!(parse_sacct("1|x").is_err());
    }

    #[test]
    fn the_wrapper_quotes_what_it_writes() {
        let d = Dispatch {
            tag: Tag {
                instance: 1,
                job: 5,
                attempt: 2,
            },
            target: crate::Target {
                partition: "huawei".into(),
                gres_type: "ascend910b".into(),
                gres_name: "gpu".into(),
                visible_devices_env: None,
            },
            nodes: 1,
            chips_per_node: 2,
            script: "echo hi".into(),
            env: vec![("TESSERA_NOTE".into(), "it's $(rm -rf /)".into())],
            grace_s: 0,
            lost_attempts: vec![1],
            also: Vec::new(),
        };
        let e = SlurmEngine::new("s", None, None, PathBuf::from("/s"));
        let w = wrapper_script(&d, &e.attempt_files(&d));
        assert!(w.contains("trap 'true' USR1"));
        assert!(
            w.contains(r"export TESSERA_NOTE='it'\''s $(rm -rf /)'"),
            "{w}"
        );
        assert!(w.contains("exec 9>>'/s/00000001-5.lock'"), "{w}");
        assert!(w.contains("cat '/s/00000001-5-1.exit'"), "{w}");
        assert!(w.contains("bash '/s/00000001-5-2.user.sh' 9>&-"), "{w}");
        assert!(w.contains("mv '/s/00000001-5-2.exit'.tmp '/s/00000001-5-2.exit'"));
    }

    /// The wrapper run by bash, as slurmd would run it: two attempts of one job never
    /// run at once, and an attempt after a lost one that succeeded does not run the
    /// job's script again.
    #[test]
    fn the_wrapper_fences_attempts_of_one_job() {
        let dir = std::env::temp_dir().join(format!("tessera-fence-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let e = SlurmEngine::new("s", None, None, dir.clone());
        let runs = dir.join("runs.txt");
        let dispatch = |attempt: u32, lost: Vec<u32>, script: String| Dispatch {
            tag: Tag {
                instance: 7,
                job: 3,
                attempt,
            },
            target: crate::Target {
                partition: "p".into(),
                gres_type: "t".into(),
                gres_name: "gpu".into(),
                visible_devices_env: None,
            },
            nodes: 1,
            chips_per_node: 1,
            script,
            env: vec![],
            grace_s: 0,
            lost_attempts: lost,
            also: Vec::new(),
        };
        let start = |d: &Dispatch| {
            let f = e.attempt_files(d);
            std::fs::write(&f.user, &d.script).unwrap();
            let w = dir.join(format!("{}.sh", d.tag.attempt));
            std::fs::write(&w, wrapper_script(d, &f)).unwrap();
            std::process::Command::new("bash").arg(&w).spawn().unwrap()
        };
        let r = runs.display();
        // Attempt 1 runs for a while; attempt 2 (it was declared lost) starts meanwhile.
        let d1 = dispatch(
            1,
            vec![],
            format!("echo start 1 >> {r}; sleep 1; echo end 1 >> {r}"),
        );
        let d2 = dispatch(
            2,
            vec![1],
            format!("echo start 2 >> {r}; echo end 2 >> {r}"),
        );
        let mut p1 = start(&d1);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut p2 = start(&d2);
        assert!(p1.wait().unwrap().success());
        assert!(p2.wait().unwrap().success());
        let text = std::fs::read_to_string(&runs).unwrap();
        assert_eq!(text, "start 1\nend 1\n", "attempt 2 ran the job again");
        assert_eq!(e.exit_code(d2.tag), Some(0));
        assert_eq!(e.finished_by(d2.tag), Some(1));
        // Attempt 3, after a failed attempt 2 that was lost: it runs, after 2 has ended.
        std::fs::remove_file(&runs).unwrap();
        let d2 = dispatch(
            2,
            vec![],
            format!("echo start 2 >> {r}; sleep 1; echo end 2 >> {r}; exit 3"),
        );
        let d3 = dispatch(
            3,
            vec![2],
            format!("echo start 3 >> {r}; echo end 3 >> {r}"),
        );
        let mut p2 = start(&d2);
        std::thread::sleep(std::time::Duration::from_millis(300));
        let mut p3 = start(&d3);
        assert_eq!(p2.wait().unwrap().code(), Some(3));
        assert!(p3.wait().unwrap().success());
        let text = std::fs::read_to_string(&runs).unwrap();
        assert_eq!(text, "start 2\nend 2\nstart 3\nend 3\n");
        assert_eq!(e.finished_by(d3.tag), None);
        // Slurm rerunning attempt 3 by itself (a requeue): the rerun runs nothing and
        // leaves the marker that makes the attempt "ended by the engine".
        std::fs::remove_file(&runs).unwrap();
        let f = e.attempt_files(&d3);
        let w = dir.join("3-again.sh");
        std::fs::write(&w, wrapper_script(&d3, &f)).unwrap();
        let st = std::process::Command::new("bash")
            .arg(&w)
            .env("SLURM_RESTART_COUNT", "1")
            .status()
            .unwrap();
        assert_eq!(st.code(), Some(REQUEUED_EXIT));
        assert!(!runs.exists(), "the rerun ran the script");
        let mut j = EngineJob {
            engine_id: "9".into(),
            tag: Some(d3.tag),
            state: EngineState::Failed,
            detail: "FAILED NonZeroExitCode".into(),
            partition: "p".into(),
            nodes: "n".into(),
            exit_code: None,
        };
        e.settle(&mut j);
        assert_eq!(j.state, EngineState::NodeFailed, "{j:?}");
        assert_eq!(
            e.outcome(d3.tag),
            None,
            "no outcome: the attempt did not finish"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// squeue's rows of a heterogeneous job become one job in the state of the whole.
    #[test]
    fn heterogeneous_components_merge_into_one_job() {
        let rows = "7+1|tessera-00000001-5-1|RUNNING|tessera:00000001:5:1|n-a800|nvidia|None\n\
                    8|other|PENDING|(null)||all|Priority\n\
                    7+0|tessera-00000001-5-1|RUNNING|tessera:00000001:5:1|n-ascend|huawei|None\n";
        let jobs = merge_components(parse_squeue(rows).unwrap());
        assert_eq!(jobs.len(), 2);
        let g = &jobs[0];
        assert_eq!(g.engine_id, "7");
        assert_eq!(g.state, EngineState::Running);
        assert_eq!(g.partition, "huawei+nvidia");
        assert_eq!(g.nodes, "n-ascend,n-a800");
        assert_eq!(
            g.tag,
            Some(Tag {
                instance: 1,
                job: 5,
                attempt: 1
            })
        );
        assert_eq!(jobs[1].engine_id, "8");
        let state = |a: &str, b: &str| {
            let rows = format!("9+0|j|{a}|(null)|x|p|None\n9+1|j|{b}|(null)|y|q|None\n");
            merge_components(parse_squeue(&rows).unwrap())[0].state
        };
        assert_eq!(state("RUNNING", "PENDING"), EngineState::Pending);
        assert_eq!(state("COMPLETED", "COMPLETED"), EngineState::Succeeded);
        assert_eq!(state("COMPLETED", "RUNNING"), EngineState::Running);
        assert_eq!(state("RUNNING", "FAILED"), EngineState::Failed);
        assert_eq!(state("CANCELLED", "NODE_FAIL"), EngineState::NodeFailed);
        assert_eq!(state("CANCELLED", "COMPLETED"), EngineState::Cancelled);
        // Not a component id: left alone.
        let odd = merge_components(
            parse_squeue("+1|j|RUNNING|(null)|x|p|None\n3+x|j|RUNNING|(null)|x|p|None\n").unwrap(),
        );
        assert_eq!(odd.len(), 2);
    }

    proptest::proptest! {
        /// Merging components keeps every tag and never adds a job.
        #[test]
        fn merging_keeps_tags(ids in proptest::collection::vec((1u32..4, 0u32..3, 0u32..3), 0..12)) {
            let rows: String = ids
                .iter()
                .map(|(n, k, a)| format!("{n}+{k}|tessera-00000001-{n}-{a}|RUNNING|(null)|x|p|None\n"))
                .collect();
            let raw = parse_squeue(&rows).unwrap();
            let merged = merge_components(raw.clone());
            proptest::prop_assert!(merged.len() <= raw.len());
            for j in &merged {
                proptest::prop_assert!(!j.engine_id.contains('+'));
            }
            let leads: std::collections::BTreeSet<&str> =
                raw.iter().filter_map(|j| j.engine_id.split('+').next()).collect();
            proptest::prop_assert_eq!(merged.len(), leads.len());
        }
    }

    proptest::proptest! {
        /// The parsers never panic, whatever the tools print.
        #[test]
        fn parsers_take_any_text(s in "\\PC{0,200}") {
            let _ = merge_components(parse_squeue(&s).unwrap_or_default());
            let _ = parse_squeue(&s);
            let _ = parse_sinfo(&s);
            let _ = parse_sbatch(&s);
            let _ = parse_sacct(&s);
            let _ = node_state(&s);
        }
    }
}
