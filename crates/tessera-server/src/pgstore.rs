//! The PostgreSQL store: the same [`Store`] as SQLite, on a server given by URL
//! (`state = "postgres://user@host:port/db"`). Migrations are numbered like SQLite's and
//! recorded in `tessera_schema`; a commit is acknowledged by PostgreSQL only once it is
//! durable (its default `synchronous_commit = on`).

use crate::job::{JobSpec, JobState};
use crate::store::{Attempt, EventRecord, JobFilter, JobRecord, RawJob, Store, StoreError};
use postgres::{Client, NoTls};

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> StoreError {
        StoreError::Pg(e.to_string())
    }
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE jobs (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        owner TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        submitted_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        cancel_requested BOOLEAN NOT NULL DEFAULT FALSE
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE TABLE attempts (
        job BIGINT NOT NULL REFERENCES jobs(id),
        attempt BIGINT NOT NULL,
        pool TEXT NOT NULL,
        engine TEXT NOT NULL,
        engine_id TEXT,
        state TEXT NOT NULL,
        chips BIGINT NOT NULL,
        nodes TEXT NOT NULL DEFAULT '',
        dispatched_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        ended_at DOUBLE PRECISION,
        exit_code INTEGER,
        stop_at DOUBLE PRECISION,
        PRIMARY KEY (job, attempt)
    );
    CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        job BIGINT,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL
    );",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    "ALTER TABLE jobs ADD COLUMN parent BIGINT REFERENCES jobs(id);
    CREATE INDEX jobs_parent ON jobs(parent);",
    "CREATE INDEX events_job ON events(job, seq);",
];

/// An `events` row (seq, at, job, kind, detail).
fn event_row(r: &postgres::Row) -> EventRecord {
    EventRecord {
        seq: r.get::<_, i64>(0) as u64,
        at: r.get(1),
        job: r.get::<_, Option<i64>>(2).map(|j| j as u64),
        kind: r.get(3),
        detail: r.get(4),
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    db: Client,
    /// Write calls made through this connection (see [`Store::write_count`]).
    writes: u64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects and migrates.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        let mut db = Client::connect(url, NoTls)?;
        db.batch_execute("CREATE TABLE IF NOT EXISTS tessera_schema (version BIGINT NOT NULL)")?;
        // One migrating server at a time.
        let mut tx = db.transaction()?;
        tx.batch_execute("LOCK TABLE tessera_schema IN EXCLUSIVE MODE")?;
        let v: i64 = tx
            .query_opt("SELECT version FROM tessera_schema", &[])?
            .map_or(0, |r| r.get(0));
        let known = MIGRATIONS.len() as i64;
        if v > known {
            return Err(StoreError::TooNew { found: v, known });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.batch_execute(m)?;
            if i == 1 {
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('instance', $1)",
                    &[&format!("{:08x}", crate::store::new_instance())],
                )?;
            }
        }
        if v < known {
            tx.execute("DELETE FROM tessera_schema", &[])?;
            tx.execute(
                "INSERT INTO tessera_schema (version) VALUES ($1)",
                &[&known],
            )?;
        }
        tx.commit()?;
        Ok(PgStore { db, writes: 0 })
    }

    /// Drops tessera's tables (tests: a clean database per run).
    pub fn reset(url: &str) -> Result<(), StoreError> {
        let mut db = Client::connect(url, NoTls)?;
        db.batch_execute(
            "DROP TABLE IF EXISTS attempts, events, jobs, meta, tessera_schema CASCADE",
        )?;
        Ok(())
    }

    /// The attempts of these jobs, in one query, by job.
    fn attempts_of(
        &mut self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<u64, Vec<Attempt>>, StoreError> {
        let mut by: std::collections::HashMap<u64, Vec<Attempt>> = Default::default();
        if ids.is_empty() {
            return Ok(by);
        }
        let rows = self.db.query(
            "SELECT job, attempt, pool, engine, engine_id, state, chips, nodes, dispatched_at,
                    started_at, ended_at, exit_code, stop_at
             FROM attempts WHERE job = ANY($1) ORDER BY job, attempt",
            &[&ids],
        )?;
        for r in rows {
            by.entry(r.get::<_, i64>(0) as u64)
                .or_default()
                .push(Attempt {
                    attempt: r.get::<_, i64>(1) as u32,
                    pool: r.get(2),
                    engine: r.get(3),
                    engine_id: r.get(4),
                    state: r.get(5),
                    chips: r.get::<_, i64>(6) as u32,
                    nodes: r.get(7),
                    dispatched_at: r.get(8),
                    started_at: r.get(9),
                    ended_at: r.get(10),
                    exit_code: r.get(11),
                    stop_at: r.get(12),
                });
        }
        Ok(by)
    }

    fn read_jobs(
        &mut self,
        sql: &str,
        p: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<JobRecord>, StoreError> {
        let rows = self.db.query(sql, p)?;
        let raw: Vec<RawJob> = rows
            .iter()
            .map(|r| RawJob {
                id: r.get::<_, i64>(0) as u64,
                owner: r.get(1),
                spec: r.get(2),
                state: r.get(3),
                submitted_at: r.get(4),
                updated_at: r.get(5),
                cancel_requested: r.get(6),
            })
            .collect();
        let ids: Vec<i64> = raw.iter().map(|j| j.id as i64).collect();
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

impl Store for PgStore {
    fn instance(&mut self) -> Result<u32, StoreError> {
        let v: String = self
            .db
            .query_one("SELECT value FROM meta WHERE key = 'instance'", &[])?
            .get(0);
        u32::from_str_radix(&v, 16).map_err(|_| StoreError::Corrupt {
            job: 0,
            why: format!("instance id `{v}` is not 8 hex digits"),
        })
    }

    fn insert_job(&mut self, owner: &str, spec: &JobSpec, now: f64) -> Result<u64, StoreError> {
        self.writes += 1;
        let text = crate::store::spec_text(spec)?;
        let mut tx = self.db.transaction()?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO jobs (owner, spec, state, submitted_at, updated_at, parent)
                 VALUES ($1, $2, 'queued', $3, $3, $4) RETURNING id",
                &[&owner, &text, &now, &spec.parent().map(|p| p as i64)],
            )?
            .get(0);
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES ($1, $2, 'submitted', $3)",
            &[&now, &id, &format!("by {owner}")],
        )?;
        tx.commit()?;
        Ok(id as u64)
    }

    fn job(&mut self, id: u64) -> Result<Option<JobRecord>, StoreError> {
        Ok(self
            .read_jobs(&format!("{JOB_COLUMNS} WHERE id = $1"), &[&(id as i64)])?
            .pop())
    }

    fn jobs(&mut self, f: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let state = f.state.map(|s| s.as_str().to_string());
        let limit = f.limit.unwrap_or(1000).min(100_000) as i64;
        self.read_jobs(
            &format!(
                "{JOB_COLUMNS} WHERE ($1::TEXT IS NULL OR state = $1) AND ($2::TEXT IS NULL OR owner = $2)
                 ORDER BY id DESC LIMIT $3"
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
        self.writes
    }

    fn children(&mut self, parent: u64) -> Result<Vec<JobRecord>, StoreError> {
        self.read_jobs(
            &format!("{JOB_COLUMNS} WHERE parent = $1 ORDER BY id"),
            &[&(parent as i64)],
        )
    }

    fn set_spec(&mut self, id: u64, spec: &JobSpec, now: f64) -> Result<(), StoreError> {
        self.writes += 1;
        let text = crate::store::spec_text(spec)?;
        let n = self.db.execute(
            "UPDATE jobs SET spec = $1, updated_at = $2 WHERE id = $3",
            &[&text, &now, &(id as i64)],
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
        self.writes += 1;
        let mut tx = self.db.transaction()?;
        let old: Option<String> = tx
            .query_opt(
                "SELECT state FROM jobs WHERE id = $1 FOR UPDATE",
                &[&(id as i64)],
            )?
            .map(|r| r.get(0));
        if old.as_deref() != Some(s.as_str()) {
            tx.execute(
                "UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1",
                &[&(id as i64), &s.as_str(), &now],
            )?;
            tx.execute(
                "INSERT INTO events (at, job, kind, detail) VALUES ($1, $2, 'state', $3)",
                &[&now, &(id as i64), &s.as_str()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn request_cancel(&mut self, id: u64, now: f64) -> Result<(), StoreError> {
        self.writes += 1;
        let mut tx = self.db.transaction()?;
        tx.execute(
            "UPDATE jobs SET cancel_requested = TRUE, updated_at = $2 WHERE id = $1",
            &[&(id as i64), &now],
        )?;
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES ($1, $2, 'cancel-requested', '')",
            &[&now, &(id as i64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn begin_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError> {
        self.writes += 1;
        let mut tx = self.db.transaction()?;
        tx.execute(
            "INSERT INTO attempts (job, attempt, pool, engine, engine_id, state, chips, nodes,
                dispatched_at, started_at, ended_at, exit_code, stop_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            &[
                &(id as i64),
                &(a.attempt as i64),
                &a.pool,
                &a.engine,
                &a.engine_id,
                &a.state,
                &(a.chips as i64),
                &a.nodes,
                &a.dispatched_at,
                &a.started_at,
                &a.ended_at,
                &a.exit_code,
                &a.stop_at,
            ],
        )?;
        tx.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES ($1, $2, 'dispatching', $3)",
            &[
                &a.dispatched_at,
                &(id as i64),
                &format!("attempt {} on {}", a.attempt, a.pool),
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn update_attempt(&mut self, id: u64, a: &Attempt) -> Result<(), StoreError> {
        self.writes += 1;
        self.db.execute(
            "UPDATE attempts SET engine_id = $3, state = $4, nodes = $5, started_at = $6,
                ended_at = $7, exit_code = $8, stop_at = $9
             WHERE job = $1 AND attempt = $2",
            &[
                &(id as i64),
                &(a.attempt as i64),
                &a.engine_id,
                &a.state,
                &a.nodes,
                &a.started_at,
                &a.ended_at,
                &a.exit_code,
                &a.stop_at,
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
        self.writes += 1;
        self.db.execute(
            "INSERT INTO events (at, job, kind, detail) VALUES ($1, $2, $3, $4)",
            &[&at, &job.map(|j| j as i64), &kind, &detail],
        )?;
        Ok(())
    }

    fn events_since(&mut self, seq: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let rows = self.db.query(
            "SELECT seq, at, job, kind, detail FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&(seq as i64), &(limit as i64)],
        )?;
        Ok(rows.iter().map(event_row).collect())
    }

    fn job_events(&mut self, job: u64, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        let rows = self.db.query(
            "SELECT seq, at, job, kind, detail FROM events WHERE job = $1 ORDER BY seq DESC LIMIT $2",
            &[&(job as i64), &(limit as i64)],
        )?;
        let mut v: Vec<EventRecord> = rows.iter().map(event_row).collect();
        v.reverse();
        Ok(v)
    }

    fn last_event_seq(&mut self) -> Result<u64, StoreError> {
        let row = self
            .db
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn count_by_state(&mut self) -> Result<Vec<(JobState, u64)>, StoreError> {
        let rows: Vec<(String, u64)> = self
            .db
            .query("SELECT state, COUNT(*) FROM jobs GROUP BY state", &[])?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect();
        Ok(crate::store::counts_in_order(&rows))
    }
}
