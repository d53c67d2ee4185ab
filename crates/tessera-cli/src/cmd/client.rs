//! `tessera submit`, `jobs`, `job`, `cancel`, `scale`: a client of `tessera server`'s API.

use crate::cli::{Format, JobsArgs, ServerConn, SubmitArgs};
use crate::exit::{CliError, Result};
use crate::out;
use tessera_server::client::{parse_url, request};

const DEFAULT_SERVER: &str = "http://127.0.0.1:8473";

fn addr(c: &ServerConn) -> Result<String> {
    let url = c
        .server
        .clone()
        .or_else(|| std::env::var("TESSERA_SERVER").ok())
        .unwrap_or_else(|| DEFAULT_SERVER.to_string());
    parse_url(&url).map_err(|e| CliError::Usage(e.to_string()))
}

fn token(c: &ServerConn) -> Result<Option<String>> {
    if let Some(p) = &c.token_file {
        let t = std::fs::read_to_string(p).map_err(|e| {
            CliError::Catalog(tessera_catalog::CatalogError::Io {
                path: p.display().to_string(),
                source: e,
            })
        })?;
        return Ok(Some(t.trim().to_string()));
    }
    Ok(std::env::var("TESSERA_TOKEN")
        .ok()
        .filter(|t| !t.is_empty()))
}

/// Sends a request; a 4xx or 5xx answer is an error carrying the server's message.
fn call(c: &ServerConn, method: &str, path: &str, body: Option<&str>) -> Result<serde_json::Value> {
    let a = addr(c)?;
    let t = token(c)?;
    let r = request(&a, method, path, t.as_deref(), body)
        .map_err(|e| CliError::Server(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&r.body).map_err(|_| {
        CliError::Server(format!(
            "the server at {a} answered HTTP {} with a body that is not JSON: {}",
            r.status,
            r.body.chars().take(200).collect::<String>()
        ))
    })?;
    if r.status >= 400 {
        let msg = v["message"].as_str().unwrap_or("no message").to_string();
        let msg = match v["field"].as_str() {
            Some(f) => format!("{msg} (field `{f}`)"),
            None => msg,
        };
        return Err(CliError::Refused(r.status, msg));
    }
    Ok(v)
}

pub fn submit(fmt: Format, a: &SubmitArgs) -> Result<()> {
    let path = a.file.display().to_string();
    let text = std::fs::read_to_string(&a.file).map_err(|e| {
        CliError::Catalog(tessera_catalog::CatalogError::Io {
            path: path.clone(),
            source: e,
        })
    })?;
    // Checked here first, so a bad file names its own path and line.
    let spec = if text.trim_start().starts_with('{') {
        tessera_server::job::parse_json(&text)
    } else {
        tessera_server::job::parse_toml(&path, &text)
    }
    .map_err(|e| {
        CliError::Input(match e.field {
            Some(f) if !e.message.contains(&format!("`{f}`")) => {
                let m = e
                    .message
                    .strip_prefix(&format!("{path}: "))
                    .unwrap_or(&e.message);
                format!("{path}: field `{f}`: {m}")
            }
            _ if e.message.starts_with(&path) => e.message,
            _ => format!("{path}: {}", e.message),
        })
    })?;
    let body = serde_json::to_string(&spec).map_err(|e| CliError::Internal(e.to_string()))?;
    let v = call(&a.conn, "POST", "/api/v1/jobs", Some(&body))?;
    if fmt == Format::Json {
        return out::print_json(&v);
    }
    crate::outln!(
        "submitted job {} ({})",
        v["id"],
        v["state"].as_str().unwrap_or("?")
    );
    Ok(())
}

pub fn jobs(fmt: Format, a: &JobsArgs) -> Result<()> {
    let path = match &a.state {
        Some(s) => format!("/api/v1/jobs?state={}", s),
        None => "/api/v1/jobs".to_string(),
    };
    if a.state
        .as_deref()
        .is_some_and(|s| !s.chars().all(|c| c.is_ascii_lowercase()))
    {
        return Err(CliError::Usage(format!(
            "--state: `{}` is not a job state",
            a.state.as_deref().unwrap_or("")
        )));
    }
    let v = call(&a.conn, "GET", &path, None)?;
    if fmt == Format::Json {
        return out::print_json(&v);
    }
    let mut t = out::table(&["id", "owner", "name", "state", "chips", "pool", "attempts"]);
    for j in v["jobs"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let attempts = j["attempts"].as_array().map_or(0, Vec::len);
        let pool = j["attempts"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(|a| a["pool"].as_str())
            .unwrap_or("-");
        t.add_row(vec![
            j["id"].to_string(),
            j["owner"].as_str().unwrap_or("").to_string(),
            j["name"].as_str().unwrap_or("").to_string(),
            j["state"].as_str().unwrap_or("").to_string(),
            j["spec"]["resources"]["chips"]
                .as_u64()
                .map_or("-".to_string(), |c| c.to_string()),
            pool.to_string(),
            attempts.to_string(),
        ]);
    }
    crate::outln!("{t}");
    Ok(())
}

fn print_job(fmt: Format, v: &serde_json::Value) -> Result<()> {
    if fmt == Format::Json {
        return out::print_json(v);
    }
    crate::outln!(
        "job {} ({}, {}): {}{}",
        v["id"],
        v["name"].as_str().unwrap_or(""),
        v["owner"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        if v["cancel_requested"].as_bool() == Some(true) {
            " (cancel requested)"
        } else {
            ""
        }
    );
    if let Some(u) = v["unschedulable"].as_str() {
        crate::outln!("  no pool can take it now: {u}");
    }
    if let Some(r) = v["restarts"].as_u64().filter(|&r| r > 0) {
        crate::outln!(
            "  {r} restart(s), {:.0} s lost to them",
            v["lost_s"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(p) = v["parent"].as_u64() {
        crate::outln!("  a replica of serving job {p}");
    }
    if let Some(rs) = v["replicas"].as_array() {
        let want = v["spec"]["replicas"]
            .as_u64()
            .map_or("not sized yet".to_string(), |n| n.to_string());
        crate::outln!("  replicas wanted: {want}");
        for r in rs {
            crate::outln!(
                "  replica {} = job {} on {}: {}",
                r["replica"],
                r["id"],
                r["pool"].as_str().unwrap_or("-"),
                r["state"].as_str().unwrap_or("")
            );
        }
    }
    for a in v["attempts"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        crate::outln!(
            "  attempt {} on {} ({} chips{}): {}{}",
            a["attempt"],
            a["pool"].as_str().unwrap_or(""),
            a["chips"],
            a["nodes"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map_or(String::new(), |n| format!(", nodes {n}")),
            a["state"].as_str().unwrap_or(""),
            a["exit_code"]
                .as_i64()
                .map_or(String::new(), |c| format!(", exit code {c}"))
        );
    }
    Ok(())
}

pub fn job(fmt: Format, c: &ServerConn, id: u64) -> Result<()> {
    let v = call(c, "GET", &format!("/api/v1/jobs/{id}"), None)?;
    print_job(fmt, &v)
}

pub fn scale(fmt: Format, c: &ServerConn, id: u64, replicas: u32) -> Result<()> {
    let body = serde_json::json!({ "replicas": replicas }).to_string();
    let v = call(c, "PATCH", &format!("/api/v1/jobs/{id}"), Some(&body))?;
    print_job(fmt, &v)
}

pub fn cancel(fmt: Format, c: &ServerConn, id: u64) -> Result<()> {
    let v = call(c, "DELETE", &format!("/api/v1/jobs/{id}"), None)?;
    print_job(fmt, &v)
}
