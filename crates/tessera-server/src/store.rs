//! Durable state: jobs, their attempts on engines, and an event log. One [`Store`] trait;
//! SQLite implements it (WAL, `synchronous=FULL`: a submission is acknowledged only once
//! its transaction is on disk). Schema changes are numbered migrations applied in
//! order and recorded in `PRAGMA user_version`.

use crate::job::{JobSpec, JobState};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::path::Path;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("state database (PostgreSQL): {0}")]
    Pg(String),
    #[error("state database holds a job tessera cannot read (job {job}): {why}")]
    Corrupt { job: u64, why: String },
    #[error("state database is at schema version {found}, newer than this tessera ({known})")]
    TooNew { found: i64, known: i64 },
}

/// One attempt of a job on an engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    pub attempt: u32,
    pub pool: String,
    pub engine: String,
    /// The engine's handle, once it answered (never tessera's identity).
    pub engine_id: Option<String>,
    /// "dispatching", "running", "stopping", "succeeded", "failed", "cancelled",
    /// "preempted", "lost".
    pub state: String,
    pub chips: u32,
    pub nodes: String,
    pub dispatched_at: f64,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub exit_code: Option<i32>,
    /// When a stopping attempt is cancelled (its checkpoint grace ends).
    pub stop_at: Option<f64>,
}

impl Attempt {
    /// Still holds, or may hold, engine resources.
    pub fn is_live(&self) -> bool {
        matches!(self.state.as_str(), "dispatching" | "running" | "stopping")
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub id: u64,
    pub owner: String,
    pub spec: JobSpec,
    pub state: JobState,
    pub submitted_at: f64,
    pub updated_at: f64,
    /// Set when the owner asked to cancel.
    pub cancel_requested: bool,
    pub attempts: Vec<Attempt>,
}

impl JobRecord {
    /// Restarts (attempts after the first) and the seconds the job lost to them: for
    /// each restart that has started, the time from the previous attempt's end to its
    /// start, plus the job's stated restart cost (a training job's
    /// `checkpoint-restart-s`). Work an attempt did after its last checkpoint is the
    /// job's to know and is not counted.
    pub fn restarts_and_lost_s(&self) -> (u32, f64) {
        let restart_cost = match &self.spec {
            JobSpec::Train(t) => t.checkpoint_restart_s,
            _ => 0.0,
        };
        let restarts = self.attempts.len().saturating_sub(1) as u32;
        let lost: f64 = self
            .attempts
            .windows(2)
            .filter_map(|w| {
                let (end, start) = (w[0].ended_at?, w[1].started_at?);
                Some((start - end).max(0.0) + restart_cost)
            })
            .sum();
        // An empty f64 sum is -0.0; the API says 0.
        (restarts, lost + 0.0)
    }
}

/// Filters for listing jobs.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub state: Option<JobState>,
    pub owner: Option<String>,
    pub limit: Option<u32>,
}

/// One entry of the event log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    pub seq: u64,
    pub at: f64,
    pub job: Option<u64>,
    pub kind: String,
    pub detail: String,
}

/// The store the server keeps its state in.
pub trait Store: Send {
    /// This database's instance id (in every engine job's tag).
    fn instance(&mut self) -> Result<u32, StoreError>;
    /// Stores a new job, durably, and returns its id.
    fn insert_job(&mut self, owner: &str, spec: &JobSpec, now: f64) -> Result<u64, StoreError>;
    fn job(&mut self, id: u64) -> Result<Option<JobRecord>, StoreError>;
    fn jobs(&mut self, f: &JobFilter) -> Result<Vec<JobRecord>, StoreError>;
    /// Jobs not yet in a final state, oldest first.
    fn open_jobs(&mut self) -> Result<Vec<JobRecord>, StoreError>;
    fn set_state(&mut self, id: u64, s: JobState, now: f64) -> Result<(), StoreError>;
    fn request_cancel(&mut self, id: u64, now: f64) -> Result<(), StoreError>;
    /// Records an attempt before its dispatch (so a crash between the two leaves a trace
    /// that reconciliation resolves).
    fn begin_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError>;
    fn update_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError>;
    fn log(
        &mut self,
        at: f64,
        job: Option<u64>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError>;
    fn events_since(&mut self, seq: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError>;
    /// A job's last `limit` events, oldest first.
    fn job_events(&mut self, job: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError>;
    /// The sequence number of the newest event (0 when there is none).
    fn last_event_seq(&mut self) -> Result<u64, StoreError>;
    /// Jobs per state.
    fn count_by_state(&mut self) -> Result<Vec<(JobState, u64)>, StoreError>;
    /// The replica jobs of a serving job, every one it ever had, oldest first.
    fn children(&mut self, parent: u64) -> Result<Vec<JobRecord>, StoreError>;
    /// Replaces a job's spec (a serving job's replica count when it is scaled).
    fn set_spec(&mut self, id: u64, spec: &JobSpec, now: f64) -> Result<(), StoreError>;
    /// A number that grows with every write made through this store (by the server's
    /// loop and its API alike): equal numbers mean nothing was written in between, so a
    /// read made then is still current.
    fn write_count(&mut self) -> u64;
}

/// A job row as both stores read it, its spec and state still text.
pub(crate) struct RawJob {
    pub id: u64,
    pub owner: String,
    pub spec: String,
    pub state: String,
    pub submitted_at: f64,
    pub updated_at: f64,
    pub cancel_requested: bool,
}

impl RawJob {
    /// The job, or `Corrupt` naming it when its spec or state cannot be read.
    pub(crate) fn decode(self, attempts: Vec<Attempt>) -> Result<JobRecord, StoreError> {
        let id = self.id;
        let spec: JobSpec = serde_json::from_str(&self.spec).map_err(|e| StoreError::Corrupt {
            job: id,
            why: e.to_string(),
        })?;
        let state = JobState::parse(&self.state).ok_or_else(|| StoreError::Corrupt {
            job: id,
            why: format!("unknown state `{}`", self.state),
        })?;
        Ok(JobRecord {
            id,
            owner: self.owner,
            spec,
            state,
            submitted_at: self.submitted_at,
            updated_at: self.updated_at,
            cancel_requested: self.cancel_requested,
            attempts,
        })
    }
}

/// A spec as both stores keep it (JSON text).
pub(crate) fn spec_text(spec: &JobSpec) -> Result<String, StoreError> {
    serde_json::to_string(spec).map_err(|e| StoreError::Corrupt {
        job: 0,
        why: e.to_string(),
    })
}

/// Counts per state from `(state, count)` rows, in `JobState::ALL` order, 0 where no
/// job is in a state.
pub(crate) fn counts_in_order(rows: &[(String, u64)]) -> Vec<(JobState, u64)> {
    JobState::ALL
        .iter()
        .map(|&s| {
            let n = rows
                .iter()
                .find(|(x, _)| x == s.as_str())
                .map_or(0, |(_, n)| *n);
            (s, n)
        })
        .collect()
}

/// An `events` row (seq, at, job, kind, detail).
fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        seq: r.get::<_, i64>(0)? as u64,
        at: r.get(1)?,
        job: r.get::<_, Option<i64>>(2)?.map(|j| j as u64),
        kind: r.get(3)?,
        detail: r.get(4)?,
    })
}

/// Migrations, in order; index + 1 is the schema version after applying it.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        cancel_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE TABLE attempts (
        job INTEGER NOT NULL REFERENCES jobs(id),
        attempt INTEGER NOT NULL,
        pool TEXT NOT NULL,
        engine TEXT NOT NULL,
        engine_id TEXT,
        state TEXT NOT NULL,
        chips INTEGER NOT NULL,
        nodes TEXT NOT NULL DEFAULT '',
        dispatched_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        exit_code INTEGER,
        stop_at REAL,
        PRIMARY KEY (job, attempt)
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        job INTEGER,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );",
    // The server instance: engine jobs carry it, so two databases never mistake each
    // other's jobs for their own. The value is filled in when the migration runs.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // The serving job a replica job belongs to.
    "ALTER TABLE jobs ADD COLUMN parent INTEGER REFERENCES jobs(id);
    CREATE INDEX jobs_parent ON jobs(parent);",
    // A job's events (its page in the dashboard).
    "CREATE INDEX events_job ON events(job, seq);",
];

/// A random instance id (no RNG crate: SHA-256 of the time, the process id and an
/// address).
pub(crate) fn new_instance() -> u32 {
    use sha2::Digest;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let local = 0u8;
    let seed = format!("{t}:{}:{:p}", std::process::id(), &local);
    let h = sha2::Sha256::digest(seed.as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]])
}

/// The SQLite store.
#[derive(Debug)]
pub struct SqliteStore {
    db: Connection,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open(path)?)
    }

    /// A private in-memory database (tests).
    pub fn memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(db: Connection) -> Result<SqliteStore, StoreError> {
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.pragma_update(None, "foreign_keys", "ON")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        let v: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew { found: v, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let tx = db.unchecked_transaction()?;
            tx.execute_batch(m)?;
            if i == 1 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('instance', ?1)",
                    [format!("{:08x}", new_instance())],
                )?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(SqliteStore { db })
    }

    /// The attempts of these jobs, by job: one query per 500 jobs, not one per job.
    fn attempts_of(
        &self,
        ids: &[u64],
    ) -> Result<std::collections::HashMap<u64, Vec<Attempt>>, StoreError> {
        let mut by: std::collections::HashMap<u64, Vec<Attempt>> = Default::default();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut st = self.db.prepare_cached(&format!(
                "SELECT job, attempt, pool, engine, engine_id, state, chips, nodes, dispatched_at,
                        started_at, ended_at, exit_code, stop_at
                 FROM attempts WHERE job IN ({marks}) ORDER BY job, attempt"
            ))?;
            let params: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let rows = st.query_map(rusqlite::params_from_iter(params), |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    Attempt {
                        attempt: r.get::<_, i64>(1)? as u32,
                        pool: r.get(2)?,
                        engine: r.get(3)?,
                        engine_id: r.get(4)?,
                        state: r.get(5)?,
                        chips: r.get::<_, i64>(6)? as u32,
                        nodes: r.get(7)?,
                        dispatched_at: r.get(8)?,
                        started_at: r.get(9)?,
                        ended_at: r.get(10)?,
                        exit_code: r.get(11)?,
                        stop_at: r.get(12)?,
                    },
                ))
            })?;
            for row in rows {
                let (job, a) = row?;
                by.entry(job).or_default().push(a);
            }
        }
        Ok(by)
    }

    fn read_jobs(
        &self,
        sql: &str,
        p: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<JobRecord>, StoreError> {
        let mut st = self.db.prepare_cached(sql)?;
        let rows = st.query_map(p, |r| {
            Ok(RawJob {
                id: r.get::<_, i64>(0)? as u64,
                owner: r.get(1)?,
                spec: r.get(2)?,
                state: r.get(3)?,
                submitted_at: r.get(4)?,
                updated_at: r.get(5)?,
                cancel_requested: r.get::<_, i64>(6)? != 0,
            })
        })?;
        let raw: Vec<RawJob> = rows.collect::<Result<_, _>>()?;
        drop(st);
        let ids: Vec<u64> = raw.iter().map(|j| j.id).collect();
        let mut by = self.attempts_of(&ids)?;
        raw.into_iter()
            .map(|j| {
                let a = by.remove(&j.id).unwrap_or_default();
                j.decode(a)
            })
            .collect()
    }
}

const JOB_COLUMNS: &str =
    "SELECT id, owner, spec, state, submitted_at, updated_at, cancel_requested FROM jobs";

impl Store for SqliteStore {
    fn instance(&mut self) -> Result<u32, StoreError> {
        let v: String =
            self.db
                .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
                    r.get(0)
                })?;
        u32::from_str_radix(&v, 16).map_err(|_| StoreError::Corrupt {
            job: 0,
            why: format!("instance id `{v}` is not 8 hex digits"),
        })
    }

    fn insert_job(&mut self, owner: &str, spec: &JobSpec, now: f64) -> Result<u64, StoreError> {
        let tx = self.db.transaction()?;
        let text = crate::store::spec_text(spec)?;
        tx.execute(
            "INSERT INTO jobs (owner, spec, state, submitted_at, updated_at, parent) VALUES (?1, ?2, 'queued', ?3, ?3, ?4)",
            params![owner, text, now, spec.parent().map(|p| p as i64)],
        )?;
        let id = tx.last_insert_rowid() as u64;
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES (?1, ?2, 'submitted', ?3)",
            params![now, id as i64, format!("by {owner}")],
        )?;
        tx.commit()?;
        Ok(id)
    }

    fn job(&mut self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .read_jobs(&format!("{JOB_COLUMNS} WHERE id = ?1"), &[&(id as i64)])?
            .pop())
    }

    fn jobs(&mut self, f: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let state = f.state.map(|s| s.as_str().to_string());
        let limit = f.limit.unwrap_or(1000).min(100_000) as i64;
        self.read_jobs(
            &format!(
                "{JOB_COLUMNS} WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR owner = ?2)
                 ORDER BY id DESC LIMIT ?3"
            ),
            &[&state, &f.owner, &limit],
        )
    }

    fn open_jobs(&mut self) -> Result<Vec<JobRecord>, StoreError> {
        self.read_jobs(
            &format!(
                "{JOB_COLUMNS} WHERE state NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY id"
            ),
            &[],
        )
    }

    fn write_count(&mut self) -> u64 {
        self.db.total_changes()
    }

    fn children(&mut self, parent: u64) -> Result<Vec<JobRecord>, StoreError> {
        self.read_jobs(
            &format!("{JOB_COLUMNS} WHERE parent = ?1 ORDER BY id"),
            &[&(parent as i64)],
        )
    }

    fn set_spec(&mut self, id: u64, spec: &JobSpec, now: f64) -> Result<(), StoreError> {
        let text = crate::store::spec_text(spec)?;
        let n = self.db.execute(
            "UPDATE jobs SET spec = ?1, updated_at = ?2 WHERE id = ?3",
            params![text, now, id as i64],
        )?;
        if n == 0 {
            return Err(StoreError::Corrupt {
                job: id,
                why: "a spec was written for a job the database does not have".into(),
            });
        }
        Ok(())
    }

    fn set_state(&mut self, id: u64, s: JobState, now: f64) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        let old: Option<String> = tx
            .query_row("SELECT state FROM jobs WHERE id = ?1", [id as i64], |r| {
                r.get(0)
            })
            .optional()?;
        if old.as_deref() != Some(s.as_str()) {
            tx.execute(
                "UPDATE jobs SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id as i64, s.as_str(), now],
            )?;
            tx.execute(
                "INSERT INTO events (at, job, kind, detail) VALUES (?1, ?2, 'state', ?3)",
                params![now, id as i64, s.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn request_cancel(&mut self, id: u64, now: f64) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "UPDATE jobs SET cancel_requested = 1, updated_at = ?2 WHERE id = ?1",
            params![id as i64, now],
        )?;
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES (?1, ?2, 'cancel-requested', '')",
            params![now, id as i64],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn begin_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError> {
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO attempts (job, attempt, pool, engine, engine_id, state, chips, nodes,
                dispatched_at, started_at, ended_at, exit_code, stop_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                id as i64,
                a.attempt as i64,
                a.pool,
                a.engine,
                a.engine_id,
                a.state,
                a.chips as i64,
                a.nodes,
                a.dispatched_at,
                a.started_at,
                a.ended_at,
                a.exit_code,
                a.stop_at
            ],
        )?;
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES (?1, ?2, 'dispatching', ?3)",
            params![
                a.dispatched_at,
                id as i64,
                format!("attempt {} on {}", a.attempt, a.pool)
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn update_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE attempts SET engine_id = ?3, state = ?4, nodes = ?5, started_at = ?6,
                ended_at = ?7, exit_code = ?8, stop_at = ?9
             WHERE job = ?1 AND attempt = ?2",
            params![
                id as i64,
                a.attempt as i64,
                a.engine_id,
                a.state,
                a.nodes,
                a.started_at,
                a.ended_at,
                a.exit_code,
                a.stop_at
            ],
        )?;
        Ok(())
    }

    fn log(
        &mut self,
        at: f64,
        job: Option<u64>,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES (?1, ?2, ?3, ?4)",
            params![at, job.map(|j| j as i64), kind, detail],
        )?;
        Ok(())
    }

    fn events_since(&mut self, seq: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let mut st = self.db.prepare_cached(
            "SELECT seq, at, job, kind, detail FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![seq as i64, limit as i64], event_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn job_events(&mut self, job: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let mut st = self.db.prepare_cached(
            "SELECT seq, at, job, kind, detail FROM events WHERE job = ?1 ORDER BY seq DESC LIMIT ?2",
        )?;
        let rows = st.query_map(params![job as i64, limit as i64], event_row)?;
        let mut v: Vec<EventRecord> = rows.collect::<Result<_, _>>()?;
        v.reverse();
        Ok(v)
    }

    fn last_event_seq(&mut self) -> Result<u64, StoreError> {
        let v: i64 = self
            .db
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        Ok(v as u64)
    }

    fn count_by_state(&mut self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let mut st = self
            .db
            .prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        let rows: Vec<(String, u64)> = rows.collect::<Result<_, _>>()?;
        Ok(counts_in_order(&rows))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::job::parse_json;

    fn spec() -> JobSpec {
        parse_json(
            r#"{"kind": "batch", "name": "n", "command": "true", "resources": {"chips": 1}}"#,
        )
        .unwrap()
    }

    #[test]
    fn restarts_and_lost_time_count_the_gaps_and_the_restart_cost() {
        let at = |n: u32, start: Option<f64>, end: Option<f64>| Attempt {
            attempt: n,
            pool: "p".into(),
            engine: "e".into(),
            engine_id: None,
            state: "preempted".into(),
            chips: 8,
            nodes: String::new(),
            dispatched_at: 0.0,
            started_at: start,
            ended_at: end,
            exit_code: None,
            stop_at: None,
        };
        let train = parse_json(
            r#"{"kind": "train", "name": "t", "model": "llama3-8b", "steps": 10, "checkpoint-restart-s": 30, "resources": {"chips": 8}, "entrypoint": "x"}"#,
        )
        .unwrap();
        let mut j = JobRecord {
            id: 1,
            owner: "t".into(),
            spec: train,
            state: JobState::Running,
            submitted_at: 0.0,
            updated_at: 0.0,
            cancel_requested: false,
            attempts: vec![
                at(1, Some(10.0), Some(100.0)),
                at(2, Some(160.0), Some(400.0)),
                // dispatched, not started yet: its gap is not known
                at(3, None, None),
            ],
        };
        assert_eq!(j.restarts_and_lost_s(), (2, 60.0 + 30.0));
        j.attempts[2].started_at = Some(405.0);
        assert_eq!(j.restarts_and_lost_s(), (2, 60.0 + 30.0 + 5.0 + 30.0));
        j.spec = spec();
        assert_eq!(
            j.restarts_and_lost_s(),
            (2, 65.0),
            "batch jobs state no restart cost"
        );
        j.attempts.truncate(1);
        assert_eq!(j.restarts_and_lost_s(), (0, 0.0));
    }

    #[test]
    fn jobs_attempts_and_events_survive_a_reopen() {
        let dir = std::env::temp_dir().join(format!("tessera-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db");
        let (id, inst) = {
            let mut s = SqliteStore::open(&path).unwrap();
            let id = s.insert_job("team", &spec(), 1.0).unwrap();
            s.insert_job("other", &spec(), 2.0).unwrap();
            let a = Attempt {
                attempt: 1,
                pool: "p".into(),
                engine: "e".into(),
                engine_id: None,
                state: "dispatching".into(),
                chips: 1,
                nodes: String::new(),
                dispatched_at: 3.0,
                started_at: None,
                ended_at: None,
                exit_code: None,
                stop_at: None,
            };
            s.begin_attempt(id, &a).unwrap();
            s.update_attempt(
                id,
                &Attempt {
                    engine_id: Some("17".into()),
                    state: "running".into(),
                    ..a
                },
            )
            .unwrap();
            s.set_state(id, JobState::Running, 4.0).unwrap();
            (id, s.instance().unwrap())
        };
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.instance().unwrap(), inst, "the instance id is kept");
        let j = s.job(id).unwrap().unwrap();
        assert_eq!(j.state, JobState::Running);
        assert_eq!(j.attempts[0].engine_id.as_deref(), Some("17"));
        assert_eq!(s.open_jobs().unwrap().len(), 2);
        let mine = s
            .jobs(&JobFilter {
                owner: Some("team".into()),
                ..JobFilter::default()
            })
            .unwrap();
        assert_eq!(mine.len(), 1);
        let counts = s.count_by_state().unwrap();
        assert!(counts.contains(&(JobState::Running, 1)));
        assert!(counts.contains(&(JobState::Queued, 1)));
        let ev = s.events_since(0, 100).unwrap();
        let kinds: Vec<&str> = ev.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["submitted", "submitted", "dispatching", "state"]);
        assert_eq!(s.events_since(ev[1].seq, 100).unwrap().len(), 2);
        // A database from a newer tessera is refused, not misread.
        s.db.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::TooNew { found: 99, .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
