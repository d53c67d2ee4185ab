//! The HTTP API under `/api/v1`, `/healthz` and `/metrics`. Every error is JSON with a
//! code, a message and the field at fault; writes need `Authorization: Bearer TOKEN`,
//! and a team sees and cancels only its own jobs unless it is admin.

use crate::config::{Caller, Tokens};
use crate::job::{JobSpec, JobState, SpecError, parse_json};
use crate::live::Snapshot;
use crate::store::{Attempt, EventRecord, JobFilter, JobRecord, Store, StoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// The version of the API's JSON (`schema_version`).
pub const API_VERSION: u32 = 1;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Mutex<Box<dyn Store>>>,
    pub tokens: Arc<Tokens>,
    pub snapshot: Arc<Mutex<Snapshot>>,
    pub read_needs_token: bool,
    pub clock: Arc<dyn crate::live::Clock>,
    /// Resolves chip types (ids or aliases) in submitted jobs.
    pub catalog: Arc<tessera_catalog::Catalog>,
    /// Turns true when the server shuts down: event streams end, so the graceful
    /// shutdown does not wait on them.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Each pool's chips and chips in use over time (the dashboard's chart).
    pub history: Arc<Mutex<crate::history::PoolHistory>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// An API error: the HTTP status, a stable code, a message and the field at fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> ApiError {
        ApiError {
            status: 422,
            code: "invalid_job",
            message: e.message,
            field: e.field,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "state database");
        ApiError::new(503, "state_unavailable", e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The caller of a request: `None` when no token is given; an error for a bad one.
fn caller(st: &AppState, h: &HeaderMap) -> ApiResult<Option<Caller>> {
    let Some(v) = h.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::new(401, "bad_token", "the Authorization header is not text"))?;
    let tok = v
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::new(401, "bad_token", "use `Authorization: Bearer TOKEN`"))?;
    st.tokens
        .check(tok.trim())
        .cloned()
        .map(Some)
        .ok_or_else(|| ApiError::new(401, "bad_token", "unknown token"))
}

fn writer(st: &AppState, h: &HeaderMap) -> ApiResult<Caller> {
    caller(st, h)?.ok_or_else(|| {
        ApiError::new(
            401,
            "token_required",
            "writes need `Authorization: Bearer TOKEN`",
        )
    })
}

fn reader(st: &AppState, h: &HeaderMap) -> ApiResult<Option<Caller>> {
    let c = caller(st, h)?;
    if st.read_needs_token && c.is_none() {
        return Err(ApiError::new(
            401,
            "token_required",
            "this server needs a token for reads too",
        ));
    }
    Ok(c)
}

/// A job in the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobV1 {
    pub schema_version: u32,
    pub id: u64,
    pub owner: String,
    pub kind: &'static str,
    pub name: String,
    /// queued, dispatching, running, preempted, succeeded, failed, cancelled.
    pub state: &'static str,
    pub submitted_at: f64,
    pub updated_at: f64,
    pub cancel_requested: bool,
    /// Why no pool can take it now, if so.
    pub unschedulable: Option<String>,
    pub spec: JobSpec,
    /// Every attempt on an engine, oldest first: where it ran (pool, nodes) and how it
    /// ended. The engine's id is a handle, not the job's identity.
    pub attempts: Vec<AttemptV1>,
    /// Attempts after the first.
    pub restarts: u32,
    /// Seconds lost to restarts: each gap between an attempt's end and the next one's
    /// start, plus the job's `checkpoint-restart-s` per restart (training jobs).
    pub lost_s: f64,
    /// A replica job's serving job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<u64>,
    /// A serving job's replica jobs, every one it had, oldest first (in `GET
    /// /api/v1/jobs/{id}` and the answer of scale).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<Vec<ReplicaV1>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplicaV1 {
    pub id: u64,
    pub replica: u32,
    pub state: &'static str,
    pub pool: Option<String>,
    pub nodes: Option<String>,
}

impl ReplicaV1 {
    fn of(c: &JobRecord) -> ReplicaV1 {
        let last = c.attempts.last();
        ReplicaV1 {
            id: c.id,
            replica: match &c.spec {
                JobSpec::Replica(r) => r.replica,
                _ => 0,
            },
            state: c.state.as_str(),
            pool: last.map(|a| a.pool.clone()),
            nodes: last.map(|a| a.nodes.clone()).filter(|n| !n.is_empty()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptV1 {
    pub attempt: u32,
    pub pool: String,
    pub engine: String,
    pub engine_id: Option<String>,
    pub state: String,
    pub chips: u32,
    pub nodes: String,
    pub dispatched_at: f64,
    pub started_at: Option<f64>,
    pub ended_at: Option<f64>,
    pub exit_code: Option<i32>,
}

impl From<&Attempt> for AttemptV1 {
    fn from(a: &Attempt) -> AttemptV1 {
        AttemptV1 {
            attempt: a.attempt,
            pool: a.pool.clone(),
            engine: a.engine.clone(),
            engine_id: a.engine_id.clone(),
            state: a.state.clone(),
            chips: a.chips,
            nodes: a.nodes.clone(),
            dispatched_at: a.dispatched_at,
            started_at: a.started_at,
            ended_at: a.ended_at,
            exit_code: a.exit_code,
        }
    }
}

fn job_v1(j: &JobRecord, snap: &Snapshot) -> JobV1 {
    JobV1 {
        schema_version: API_VERSION,
        id: j.id,
        owner: j.owner.clone(),
        kind: j.spec.kind(),
        name: j.spec.name().to_string(),
        state: j.state.as_str(),
        submitted_at: j.submitted_at,
        updated_at: j.updated_at,
        cancel_requested: j.cancel_requested,
        unschedulable: snap.unschedulable.get(&j.id).cloned(),
        spec: j.spec.clone(),
        attempts: j.attempts.iter().map(Into::into).collect(),
        restarts: j.restarts_and_lost_s().0,
        lost_s: j.restarts_and_lost_s().1,
        parent: j.spec.parent(),
        replicas: None,
    }
}

/// A job as the caller may see it: any job without a token (reads open), an admin's any,
/// a team's its own; `None` for the others, which answer 404 as unknown ids do.
fn visible_job(
    s: &mut Box<dyn Store>,
    id: u64,
    who: Option<&Caller>,
) -> Result<Option<JobRecord>, StoreError> {
    Ok(s.job(id)?
        .filter(|j| who.is_none_or(|c| c.admin || c.team == j.owner)))
}

/// A job as `GET /api/v1/jobs/{id}` shows it: a serving job with its replicas.
fn job_detail(s: &mut Box<dyn Store>, j: &JobRecord, snap: &Snapshot) -> Result<JobV1, StoreError> {
    let mut v = job_v1(j, snap);
    if matches!(j.spec, JobSpec::Serve(_)) {
        v.replicas = Some(s.children(j.id)?.iter().map(ReplicaV1::of).collect());
    }
    Ok(v)
}

#[derive(Debug, Serialize)]
struct Created {
    schema_version: u32,
    id: u64,
    state: &'static str,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(500, "internal", format!("worker failed: {e}")))?
}

async fn submit(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let who = writer(&st, &h)?;
    let body = body.map_err(|e| {
        ApiError::new(
            e.status().as_u16(),
            "bad_body",
            format!(
                "{} (the limit is the server's max-body-bytes)",
                e.body_text()
            ),
        )
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(400, "bad_body", "the body is not UTF-8"))?;
    let mut spec = parse_json(text)?;
    // Models and chip types by catalog id, whatever name the user gave.
    if let JobSpec::Train(t) = &mut spec {
        let m = st.catalog.model(&t.model).map_err(|e| ApiError {
            field: Some("model".into()),
            ..ApiError::new(422, "invalid_job", e.to_string())
        })?;
        if t.seq_len as u64 > m.max_seq {
            return Err(ApiError {
                field: Some("seq-len".into()),
                ..ApiError::new(
                    422,
                    "invalid_job",
                    format!(
                        "{} has positions up to {} tokens, not {}",
                        m.id, m.max_seq, t.seq_len
                    ),
                )
            });
        }
        t.model = m.id.clone();
    }
    if let JobSpec::Serve(v) = &mut spec {
        let m = st.catalog.model(&v.model).map_err(|e| ApiError {
            field: Some("model".into()),
            ..ApiError::new(422, "invalid_job", e.to_string())
        })?;
        v.model = m.id.clone();
    }
    let chip_field = if matches!(spec, JobSpec::Serve(_)) {
        "chip-types"
    } else {
        "resources.chip-types"
    };
    for t in spec.chip_types_mut() {
        let c = st.catalog.chip(t).map_err(|e| ApiError {
            field: Some(chip_field.into()),
            ..ApiError::new(422, "invalid_job", e.to_string())
        })?;
        *t = c.id.clone();
    }
    let now = st.clock.now();
    let store = st.store.clone();
    let id = blocking(move || Ok(lock(&store).insert_job(&who.team, &spec, now)?)).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/jobs/{id}"))],
        axum::Json(Created {
            schema_version: API_VERSION,
            id,
            state: "queued",
        }),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    owner: Option<String>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
struct JobList {
    schema_version: u32,
    jobs: Vec<JobV1>,
}

async fn list(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<JobList>> {
    let who = reader(&st, &h)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    let state = match q.state.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| ApiError {
            field: Some("state".into()),
            ..ApiError::new(
                400,
                "bad_query",
                format!(
                    "unknown state `{s}`; use one of {}",
                    JobState::ALL.map(|x| x.as_str()).join(", ")
                ),
            )
        })?),
    };
    if q.limit.is_some_and(|l| l == 0 || l > 100_000) {
        return Err(ApiError {
            field: Some("limit".into()),
            ..ApiError::new(400, "bad_query", "limit: valid range 1..=100000")
        });
    }
    // Without admin rights a team sees its own jobs only.
    let owner = match &who {
        Some(c) if c.admin => q.owner,
        Some(c) => Some(c.team.clone()),
        None => q.owner,
    };
    let filter = JobFilter {
        state,
        owner,
        limit: q.limit,
    };
    let store = st.store.clone();
    let jobs = blocking(move || Ok(lock(&store).jobs(&filter)?)).await?;
    let snap = lock(&st.snapshot).clone();
    Ok(axum::Json(JobList {
        schema_version: API_VERSION,
        jobs: jobs.iter().map(|j| job_v1(j, &snap)).collect(),
    }))
}

fn job_id(s: &str) -> ApiResult<u64> {
    s.parse().map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::new(400, "bad_id", format!("`{s}` is not a job id"))
    })
}

async fn get_job(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<JobV1>> {
    let who = reader(&st, &h)?;
    let id = job_id(&id)?;
    let store = st.store.clone();
    let snap = lock(&st.snapshot).clone();
    let j = blocking(move || {
        let mut s = lock(&store);
        let Some(j) = visible_job(&mut s, id, who.as_ref())? else {
            return Ok(None);
        };
        Ok(Some(job_detail(&mut s, &j, &snap)?))
    })
    .await?
    .ok_or_else(|| ApiError::new(404, "not_found", format!("no job {id}")))?;
    Ok(axum::Json(j))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobEventsQuery {
    limit: Option<u32>,
}

/// `GET /api/v1/jobs/{id}/events`: the job's last events (default 1000), oldest first:
/// its submission, predictions, launches, state changes.
async fn job_events(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    q: Result<Query<JobEventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<EventsV1>> {
    let who = reader(&st, &h)?;
    let id = job_id(&id)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError {
            field: Some("limit".into()),
            ..ApiError::new(400, "bad_query", "limit: valid range 1..=10000")
        });
    }
    let store = st.store.clone();
    let events = blocking(move || {
        let mut s = lock(&store);
        if visible_job(&mut s, id, who.as_ref())?.is_none() {
            return Ok(None);
        }
        Ok(Some(s.job_events(id, limit)?))
    })
    .await?
    .ok_or_else(|| ApiError::new(404, "not_found", format!("no job {id}")))?;
    Ok(axum::Json(EventsV1 {
        schema_version: API_VERSION,
        events,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleBody {
    replicas: u32,
}

/// `PATCH /api/v1/jobs/{id}` with `{"replicas": N}`: scales a serving job.
async fn scale(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    let who = writer(&st, &h)?;
    let id = job_id(&id)?;
    let b: ScaleBody = parse_body(body)?;
    let max = crate::job::MAX_REPLICAS;
    if !(1..=max).contains(&b.replicas) {
        return Err(bad_field("replicas", format!("valid range 1..={max}")));
    }
    let now = st.clock.now();
    let store = st.store.clone();
    let snap = lock(&st.snapshot).clone();
    let j = blocking(move || {
        let mut s = lock(&store);
        let Some(j) = visible_job(&mut s, id, Some(&who))? else {
            return Ok(Err(ApiError::new(404, "not_found", format!("no job {id}"))));
        };
        let JobSpec::Serve(mut v) = j.spec.clone() else {
            return Ok(Err(ApiError {
                field: Some("replicas".into()),
                ..ApiError::new(
                    409,
                    "not_serving",
                    format!("job {id} is a {} job; only serve jobs scale", j.spec.kind()),
                )
            }));
        };
        if j.state.is_final() || j.cancel_requested {
            return Ok(Err(ApiError::new(
                409,
                "job_ended",
                format!("job {id} is {}", j.state.as_str()),
            )));
        }
        let old = v.replicas;
        v.replicas = Some(b.replicas);
        s.set_spec(id, &JobSpec::Serve(v), now)?;
        s.log(
            now,
            Some(id),
            "scale",
            &format!(
                "{} replicas asked for by {} (was {})",
                b.replicas,
                who.team,
                old.map_or("not sized yet".into(), |o| o.to_string())
            ),
        )?;
        let j = s.job(id)?.ok_or(StoreError::Corrupt {
            job: id,
            why: "vanished while scaled".into(),
        })?;
        Ok(Ok(job_detail(&mut s, &j, &snap)?))
    })
    .await??;
    Ok((StatusCode::ACCEPTED, axum::Json(j)).into_response())
}

async fn cancel(
    State(st): State<AppState>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let who = writer(&st, &h)?;
    let id = job_id(&id)?;
    let now = st.clock.now();
    let store = st.store.clone();
    let j = blocking(move || {
        let mut s = lock(&store);
        let Some(j) = visible_job(&mut s, id, Some(&who))? else {
            return Ok(None);
        };
        if !j.state.is_final() && !j.cancel_requested {
            s.request_cancel(id, now)?;
        }
        Ok(s.job(id)?)
    })
    .await?
    .ok_or_else(|| ApiError::new(404, "not_found", format!("no job {id}")))?;
    let snap = lock(&st.snapshot).clone();
    Ok((StatusCode::ACCEPTED, axum::Json(job_v1(&j, &snap))).into_response())
}

#[derive(Debug, Serialize)]
struct PoolsV1 {
    schema_version: u32,
    #[serde(flatten)]
    snapshot: Snapshot,
}

async fn pools(State(st): State<AppState>, h: HeaderMap) -> ApiResult<axum::Json<PoolsV1>> {
    reader(&st, &h)?;
    Ok(axum::Json(PoolsV1 {
        schema_version: API_VERSION,
        snapshot: lock(&st.snapshot).clone(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    since: Option<u64>,
    limit: Option<u32>,
}

#[derive(Debug, Serialize)]
struct EventsV1 {
    schema_version: u32,
    events: Vec<EventRecord>,
}

async fn events(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<EventsV1>> {
    let who = reader(&st, &h)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    let since = q.since.unwrap_or(0);
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let store = st.store.clone();
    let ev = blocking(move || {
        let mut s = lock(&store);
        let ev = s.events_since(since, limit)?;
        // A team's view: events of its own jobs and of the fleet.
        match who {
            Some(c) if !c.admin => {
                let mut out = Vec::new();
                for e in ev {
                    let mine = match e.job {
                        None => true,
                        Some(j) => s.job(j)?.is_some_and(|j| j.owner == c.team),
                    };
                    if mine {
                        out.push(e);
                    }
                }
                Ok(out)
            }
            _ => Ok(ev),
        }
    })
    .await?;
    Ok(axum::Json(EventsV1 {
        schema_version: API_VERSION,
        events: ev,
    }))
}

/// The event log as server-sent events: every event after `since` (or from now on),
/// then new ones as they are written (polled each second). Each SSE event has the log's
/// sequence number as its id, the event's kind as its type and the event as JSON data;
/// a client that reconnects with `Last-Event-ID` resumes after it.
async fn event_stream(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    use axum::response::sse::{Event as Sse, KeepAlive};
    let who = reader(&st, &h)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    let last_id = h
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let store = st.store.clone();
    let since = match last_id.or(q.since) {
        Some(s) => s,
        None => {
            let store = store.clone();
            blocking(move || Ok(lock(&store).last_event_seq()?)).await?
        }
    };
    let state = (
        std::collections::VecDeque::<EventRecord>::new(),
        since,
        true,
    );
    let shutdown = st.shutdown.clone();
    let stream = futures_util::stream::unfold(state, move |(mut buf, mut since, mut first)| {
        let store = store.clone();
        let who = who.clone();
        let mut shutdown = shutdown.clone();
        async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                if let Some(e) = buf.pop_front() {
                    let data = serde_json::to_string(&e).unwrap_or_default();
                    let ev = Sse::default()
                        .id(e.seq.to_string())
                        .event(e.kind.clone())
                        .data(data);
                    return Some((Ok::<_, std::convert::Infallible>(ev), (buf, since, first)));
                }
                if !first {
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                        _ = shutdown.changed() => return None,
                    }
                }
                first = false;
                let who = who.clone();
                let store = store.clone();
                let got = tokio::task::spawn_blocking(move || {
                    let mut s = lock(&store);
                    let ev = s.events_since(since, 1000).ok()?;
                    let mut out = Vec::new();
                    for e in ev {
                        let visible = match (&who, e.job) {
                            (Some(c), Some(j)) if !c.admin => {
                                s.job(j).ok().flatten().is_some_and(|j| j.owner == c.team)
                            }
                            _ => true,
                        };
                        out.push((e, visible));
                    }
                    Some(out)
                })
                .await
                .ok()
                .flatten()?;
                for (e, visible) in got {
                    since = since.max(e.seq);
                    if visible {
                        buf.push_back(e);
                    }
                }
            }
        }
    });
    Ok(axum::response::sse::Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn healthz(State(st): State<AppState>) -> Response {
    let snap = lock(&st.snapshot).clone();
    let ok = snap.engines.iter().all(|e| e.healthy);
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "engines": snap.engines,
        "last_tick_at": snap.last_tick_at,
    });
    // The server itself is up either way; an unhealthy engine is reported, not fatal.
    (StatusCode::OK, axum::Json(body)).into_response()
}

async fn metrics(State(st): State<AppState>) -> ApiResult<Response> {
    let store = st.store.clone();
    let counts = blocking(move || Ok(lock(&store).count_by_state()?)).await?;
    let snap = lock(&st.snapshot).clone();
    let mut t = String::new();
    // One Prometheus metric: its help and type lines, then a sample per label set.
    let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        t.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in samples {
            t.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let pool = |p: &crate::live::PoolStatus| format!("{{pool=\"{}\",chip=\"{}\"}}", p.name, p.chip);
    metric(
        "tessera_jobs",
        "gauge",
        "Jobs by state.",
        counts
            .iter()
            .map(|(s, n)| (format!("{{state=\"{}\"}}", s.as_str()), n.to_string()))
            .collect(),
    );
    metric(
        "tessera_pool_chips",
        "gauge",
        "Accelerators on nodes that are up.",
        snap.pools
            .iter()
            .map(|p| (pool(p), p.chips.to_string()))
            .collect(),
    );
    metric(
        "tessera_pool_chips_used",
        "gauge",
        "Accelerators in use, as the engine reports.",
        snap.pools
            .iter()
            .map(|p| (pool(p), p.chips_used.to_string()))
            .collect(),
    );
    metric(
        "tessera_engine_healthy",
        "gauge",
        "1 when the engine answered its last call.",
        snap.engines
            .iter()
            .map(|e| {
                (
                    format!("{{engine=\"{}\"}}", e.name),
                    u8::from(e.healthy).to_string(),
                )
            })
            .collect(),
    );
    metric(
        "tessera_rounds_total",
        "counter",
        "Scheduling rounds run.",
        vec![(String::new(), snap.rounds.to_string())],
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], t).into_response())
}

/// A training plan request over the live fleet (the options of `tessera plan train`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PlanTrainBody {
    /// A catalog model id or alias; or give `hf-config`.
    model: Option<String>,
    /// A Hugging Face `config.json`, as text, instead of a catalog model.
    hf_config: Option<String>,
    #[serde(default = "default_seq")]
    seq_len: u32,
    global_batch: Option<u32>,
    tokens: Option<f64>,
    /// "bf16" (default) or "fp8".
    precision: Option<String>,
    /// "time" (default) or "cost".
    objective: Option<String>,
    top: Option<usize>,
    /// The live pools to plan over (names); absent: all of them.
    pools: Option<Vec<String>>,
}

fn default_seq() -> u32 {
    4096
}

/// A serving plan request over the live fleet (the options of `tessera plan serve`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PlanServeBody {
    model: String,
    rate: f64,
    input_len: u32,
    output_len: u32,
    ttft_slo_s: Option<f64>,
    /// Default 0.2 s (MLPerf Inference's server limit), as the CLI's.
    tpot_slo_s: Option<f64>,
    /// "bf16" (default), "fp8", "int8", "int4", "fp4".
    precision: Option<String>,
    top: Option<usize>,
    /// The live pools to plan over (names); absent: all of them.
    pools: Option<Vec<String>>,
}

fn bad_field(field: &str, message: String) -> ApiError {
    ApiError {
        field: Some(field.into()),
        ..ApiError::new(422, "invalid_plan", message)
    }
}

fn parse_body<T: for<'de> Deserialize<'de>>(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<T> {
    let body = body.map_err(|e| ApiError::new(e.status().as_u16(), "bad_body", e.body_text()))?;
    serde_json::from_slice(&body).map_err(|e| {
        let m = e.to_string();
        ApiError {
            field: m.split('`').nth(1).map(str::to_string),
            ..ApiError::new(422, "invalid_plan", m)
        }
    })
}

/// The live fleet: each pool with the nodes that are up now.
fn live_fleet(st: &AppState) -> tessera_core::fleet::Fleet {
    crate::live::fleet_of(&lock(&st.snapshot))
}

/// The live fleet, or only the named pools of it (and the links between them).
fn chosen_fleet(st: &AppState, pools: Option<&[String]>) -> ApiResult<tessera_core::fleet::Fleet> {
    let mut fleet = live_fleet(st);
    let Some(names) = pools else {
        return Ok(fleet);
    };
    if names.is_empty() {
        return Err(bad_field(
            "pools",
            "name at least one pool, or leave pools out".into(),
        ));
    }
    if let Some(n) = names.iter().find(|n| fleet.pool(n).is_none()) {
        let known: Vec<&str> = fleet.pools.iter().map(|p| p.name.as_str()).collect();
        return Err(bad_field(
            "pools",
            format!("no pool `{n}`; the live pools are {}", known.join(", ")),
        ));
    }
    fleet.pools.retain(|p| names.contains(&p.name));
    fleet
        .links
        .retain(|l| names.contains(&l.a) && names.contains(&l.b));
    Ok(fleet)
}

async fn plan_train(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    use tessera_plan::fleet::{Objective, PoolChip, TrainRequest};
    reader(&st, &h)?;
    let b: PlanTrainBody = parse_body(body)?;
    let model = match (&b.model, &b.hf_config) {
        (Some(m), None) => st
            .catalog
            .model(m)
            .map_err(|e| bad_field("model", e.to_string()))?,
        (None, Some(text)) => tessera_catalog::hf::from_hf_config("hf-config", text, "hf-config")
            .map_err(|e| bad_field("hf-config", e.to_string()))?,
        _ => {
            return Err(bad_field(
                "model",
                "give exactly one of model (a catalog id) and hf-config (a config.json)".into(),
            ));
        }
    };
    if b.seq_len == 0 || b.seq_len as u64 > model.max_seq {
        return Err(bad_field(
            "seq-len",
            format!("valid range 1..={} for {}", model.max_seq, model.id),
        ));
    }
    if b.global_batch.is_some_and(|g| g == 0) {
        return Err(bad_field("global-batch", "must be at least 1".into()));
    }
    if b.tokens.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
        return Err(bad_field("tokens", "must be a positive number".into()));
    }
    let precision = match b.precision.as_deref() {
        None | Some("bf16") => tessera_perf::train::TrainPrecision::Bf16,
        Some("fp8") => tessera_perf::train::TrainPrecision::Fp8,
        Some(x) => return Err(bad_field("precision", format!("`{x}`: use bf16 or fp8"))),
    };
    let objective = match b.objective.as_deref() {
        None | Some("time") => Objective::Time,
        Some("cost") => Objective::Cost,
        Some(x) => return Err(bad_field("objective", format!("`{x}`: use time or cost"))),
    };
    let top = b.top.unwrap_or(5);
    if !(1..=100).contains(&top) {
        return Err(bad_field("top", "valid range 1..=100".into()));
    }
    let fleet = chosen_fleet(&st, b.pools.as_deref())?;
    let cat = st.catalog.clone();
    let r = TrainRequest {
        seq_len: b.seq_len,
        global_batch: b.global_batch,
        precision,
        tokens: b.tokens,
        top,
        objective,
        stack: None,
        framework: None,
    };
    let out = blocking(move || {
        let pools: Vec<PoolChip> = fleet
            .pools
            .iter()
            .filter_map(|p| {
                Some(PoolChip {
                    pool: p,
                    chip: cat.chip(&p.chip).ok()?,
                })
            })
            .collect();
        let started = std::time::Instant::now();
        let plan = tessera_plan::fleet::plan_train(&model, &fleet, &pools, &r);
        Ok(tessera_output::plan::FleetTrainV1::new(
            &plan,
            started.elapsed().as_secs_f64(),
        ))
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

async fn plan_serve(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    use tessera_perf::serve::ServePrecision;
    use tessera_plan::fleet::{PoolChip, ServeRequest};
    reader(&st, &h)?;
    let b: PlanServeBody = parse_body(body)?;
    let model = st
        .catalog
        .model(&b.model)
        .map_err(|e| bad_field("model", e.to_string()))?;
    if !(b.rate.is_finite() && b.rate > 0.0 && b.rate <= 1e7) {
        return Err(bad_field("rate", "valid range (0, 1e7] requests/s".into()));
    }
    if b.input_len == 0 || b.output_len == 0 {
        return Err(bad_field(
            "input-len",
            "input-len and output-len must be at least 1".into(),
        ));
    }
    for (f, v) in [("ttft-slo-s", b.ttft_slo_s), ("tpot-slo-s", b.tpot_slo_s)] {
        if v.is_some_and(|x| !(x.is_finite() && x > 0.0 && x <= 3600.0)) {
            return Err(bad_field(f, "valid range (0, 3600] seconds".into()));
        }
    }
    let precision = match b.precision.as_deref() {
        None | Some("bf16") => ServePrecision::Bf16,
        Some("fp8") => ServePrecision::Fp8,
        Some("int8") => ServePrecision::Int8,
        Some("int4") => ServePrecision::Int4,
        Some("fp4") => ServePrecision::Fp4,
        Some(x) => {
            return Err(bad_field(
                "precision",
                format!("`{x}`: use bf16, fp8, int8, int4 or fp4"),
            ));
        }
    };
    let top = b.top.unwrap_or(5);
    if !(1..=100).contains(&top) {
        return Err(bad_field("top", "valid range 1..=100".into()));
    }
    let r = ServeRequest {
        rate: b.rate,
        input_len: b.input_len,
        output_len: b.output_len,
        precision,
        ttft_slo_s: b.ttft_slo_s,
        tpot_slo_s: Some(b.tpot_slo_s.unwrap_or(0.2)),
        top,
        stack: None,
    };
    let fleet = chosen_fleet(&st, b.pools.as_deref())?;
    let cat = st.catalog.clone();
    let out = blocking(move || {
        let pools: Vec<PoolChip> = fleet
            .pools
            .iter()
            .filter_map(|p| {
                Some(PoolChip {
                    pool: p,
                    chip: cat.chip(&p.chip).ok()?,
                })
            })
            .collect();
        let plan = tessera_plan::fleet::plan_serve_fleet(&model, &fleet, &pools, &r);
        Ok(tessera_output::plan::FleetServeV1::new(&plan, &r))
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

/// A purchase-planning request: a built-in scenario or a scenario document, with the
/// chips already owned taken from the live fleet (default) or from the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProcureBody {
    /// A built-in scenario id (`tessera procure --scenario`).
    scenario: Option<String>,
    /// A scenario document (the TOML of `tessera procure --scenario FILE`).
    scenario_toml: Option<String>,
    /// "live" (default): the chips owned are the live pools' (nodes up now);
    /// "scenario": the scenario's own list.
    owned: Option<String>,
}

async fn procure(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    reader(&st, &h)?;
    let b: ProcureBody = parse_body(body)?;
    let mut sc = match (&b.scenario, &b.scenario_toml) {
        (Some(id), None) => tessera_catalog::scenarios::builtin_scenario(id)
            .ok_or_else(|| bad_field("scenario", format!("no built-in scenario `{id}`")))?
            .map_err(|e| ApiError::new(500, "internal", e.to_string()))?,
        (None, Some(text)) => tessera_catalog::scenarios::parse_scenario("scenario-toml", text)
            .map_err(|e| bad_field("scenario-toml", e.to_string()))?,
        _ => {
            return Err(bad_field(
                "scenario",
                "give exactly one of scenario (a built-in id) and scenario-toml".into(),
            ));
        }
    };
    match b.owned.as_deref() {
        None | Some("live") => {
            let fleet = live_fleet(&st);
            let mut owned: std::collections::BTreeMap<String, u64> = Default::default();
            for p in &fleet.pools {
                *owned.entry(p.chip.clone()).or_default() += p.chips();
            }
            sc.owned = owned
                .into_iter()
                .map(|(chip, count)| tessera_core::procure::Owned { chip, count })
                .collect();
        }
        Some("scenario") => {}
        Some(x) => {
            return Err(bad_field("owned", format!("`{x}`: use live or scenario")));
        }
    }
    let (chips, train, serve) = st
        .catalog
        .procure_inputs(&sc)
        .map_err(|(e, id)| bad_field("scenario", format!("{id}: {e}")))?;
    let events = st.catalog.events.clone();
    let out = blocking(move || {
        let inp = tessera_plan::procure::Inputs {
            scenario: &sc,
            chips: &chips,
            train_models: &train,
            serve_models: &serve,
            events: &events,
        };
        let r = tessera_plan::procure::procure(&inp).map_err(|e| match e {
            tessera_plan::procure::ProcureError::UnknownChip(c) => {
                bad_field("scenario", format!("unknown chip {c}"))
            }
            tessera_plan::procure::ProcureError::Solver(s) => {
                ApiError::new(500, "solver", s.to_string())
            }
        })?;
        Ok(tessera_output::procure::ProcureV1::new(&sc, &r))
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

/// The OpenAPI document of this API (checked in at crates/tessera-server/openapi.json
/// and held to the router by a test).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Every route: (method, path as the OpenAPI document writes it).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{id}"),
    ("delete", "/api/v1/jobs/{id}"),
    ("patch", "/api/v1/jobs/{id}"),
    ("get", "/api/v1/pools"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/events/stream"),
    ("post", "/api/v1/plan/train"),
    ("post", "/api/v1/plan/serve"),
    ("post", "/api/v1/procure"),
    ("get", "/api/v1/jobs/{id}/events"),
    ("get", "/api/v1/chips"),
    ("get", "/api/v1/models"),
    ("get", "/api/v1/pools/history"),
    ("post", "/api/v1/simulate"),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChipsQuery {
    date: Option<String>,
    country: Option<String>,
}

/// A catalog chip with its export status for a buyer on a date.
#[derive(Debug, Serialize)]
struct ChipExportV1 {
    #[serde(flatten)]
    chip: tessera_output::catalog::ChipRowV1,
    /// Whether a live pool has this chip.
    in_fleet: bool,
    /// The rule in force on the date, applied to the chip's figures.
    verdict: String,
    /// May the buyer obtain it from its US-regulated vendor on the date (the rule and
    /// the dated events together; `tessera export-check`).
    status: String,
}

#[derive(Debug, Serialize)]
struct ChipsV1 {
    schema_version: u32,
    date: String,
    country: &'static str,
    chips: Vec<ChipExportV1>,
}

/// `GET /api/v1/chips?date=YYYY-MM-DD&country=CN`: every catalog chip with its export
/// status. The catalog models the US rules for buyers in China (docs/export-control.md),
/// so `CN` is the one country.
async fn chips(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<ChipsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<ChipsV1>> {
    use tessera_core::date::Date;
    reader(&st, &h)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    match q.country.as_deref() {
        None | Some("CN" | "cn") => {}
        Some(c) => {
            return Err(ApiError {
                field: Some("country".into()),
                ..ApiError::new(
                    400,
                    "bad_query",
                    format!(
                        "country `{c}`: the catalog models the US export rules for buyers in China only; use CN"
                    ),
                )
            });
        }
    }
    let date = match q.date.as_deref() {
        Some(d) => Date::parse(d).map_err(|m| ApiError {
            field: Some("date".into()),
            ..ApiError::new(400, "bad_query", m)
        })?,
        None => Date::from_days_since_epoch((st.clock.now() / 86_400.0).floor() as i64),
    };
    // The configured pools' chips: known before the first tick has read the engines.
    let fleet: std::collections::BTreeSet<String> = {
        let snap = lock(&st.snapshot);
        snap.fleet_chips
            .iter()
            .cloned()
            .chain(snap.pools.iter().map(|p| p.chip.clone()))
            .collect()
    };
    let cat = &st.catalog;
    let chips = cat
        .chips
        .iter()
        .map(|c| ChipExportV1 {
            chip: c.into(),
            in_fleet: fleet.contains(&c.id),
            verdict: tessera_core::export::report(c, date, None, &cat.events).verdict,
            status: tessera_core::export::china_status(c, date, &cat.events),
        })
        .collect();
    Ok(axum::Json(ChipsV1 {
        schema_version: API_VERSION,
        date: date.to_string(),
        country: "CN",
        chips,
    }))
}

#[derive(Debug, Serialize)]
struct ModelsV1 {
    schema_version: u32,
    models: Vec<tessera_output::catalog::ModelRowV1>,
}

/// `GET /api/v1/models`: the catalog's models (`tessera models list`).
async fn models(State(st): State<AppState>, h: HeaderMap) -> ApiResult<axum::Json<ModelsV1>> {
    reader(&st, &h)?;
    Ok(axum::Json(ModelsV1 {
        schema_version: API_VERSION,
        models: st.catalog.models.iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    since: Option<f64>,
}

#[derive(Debug, Serialize)]
struct HistoryV1 {
    schema_version: u32,
    /// Least seconds between samples, and how many are kept.
    sample_every_s: f64,
    keep: usize,
    pools: Vec<String>,
    samples: Vec<crate::history::Sample>,
}

/// `GET /api/v1/pools/history?since=UNIX_S`: each pool's chips and chips in use over
/// time, since the server started (the last 8 hours).
async fn pools_history(
    State(st): State<AppState>,
    h: HeaderMap,
    q: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<axum::Json<HistoryV1>> {
    reader(&st, &h)?;
    let Query(q) = q.map_err(|e| ApiError::new(400, "bad_query", e.body_text()))?;
    let since = q.since.unwrap_or(0.0);
    if !since.is_finite() {
        return Err(ApiError {
            field: Some("since".into()),
            ..ApiError::new(400, "bad_query", "since: a finite number of seconds")
        });
    }
    let hist = lock(&st.history);
    Ok(axum::Json(HistoryV1 {
        schema_version: API_VERSION,
        sample_every_s: crate::history::SAMPLE_EVERY_S,
        keep: crate::history::KEEP,
        pools: hist.pools().to_vec(),
        samples: hist.since(since),
    }))
}

/// `POST /api/v1/simulate`: what-if replays of a job file under several policies.
async fn simulate(
    State(st): State<AppState>,
    h: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Response> {
    reader(&st, &h)?;
    let b: crate::whatif::WhatIfRequest = parse_body(body).map_err(|e| ApiError {
        code: "invalid_simulation",
        ..e
    })?;
    let live = crate::whatif::live_cluster(&lock(&st.snapshot));
    let cat = st.catalog.clone();
    let out = blocking(move || {
        crate::whatif::run(&cat, live, &b).map_err(|e| ApiError {
            field: Some(e.field.into()),
            ..ApiError::new(422, "invalid_simulation", e.message)
        })
    })
    .await?;
    Ok(axum::Json(out).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(404, "not_found", "no such endpoint")
}

/// The router, with the body limit.
pub fn router(st: AppState, max_body: usize) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/jobs", get(list).post(submit))
        .route(
            "/api/v1/jobs/{id}",
            get(get_job).delete(cancel).patch(scale),
        )
        .route("/api/v1/pools", get(pools))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/plan/train", axum::routing::post(plan_train))
        .route("/api/v1/procure", axum::routing::post(procure))
        .route("/api/v1/plan/serve", axum::routing::post(plan_serve))
        .route("/api/v1/events", get(events))
        .route("/api/v1/events/stream", get(event_stream))
        .route("/api/v1/jobs/{id}/events", get(job_events))
        .route("/api/v1/chips", get(chips))
        .route("/api/v1/models", get(models))
        .route("/api/v1/pools/history", get(pools_history))
        .route("/api/v1/simulate", axum::routing::post(simulate))
        .merge(crate::ui::router())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(st)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The checked-in document names exactly the routes the router serves.
    #[test]
    fn the_openapi_document_matches_the_routes() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let mut documented = Vec::new();
        for (path, item) in v["paths"].as_object().unwrap() {
            for m in ["get", "post", "put", "delete", "patch"] {
                if item.get(m).is_some() {
                    documented.push((m.to_string(), path.clone()));
                }
            }
        }
        documented.sort();
        let mut routed: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        routed.sort();
        assert_eq!(documented, routed);
    }
}
