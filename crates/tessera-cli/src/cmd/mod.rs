//! Command implementations.

mod chips;
mod client;
mod estimate;
mod export;
mod models;
mod plan;
mod procure;
mod serve;
mod simulate;
mod validate;

use crate::cli::{Cli, Command, Global};
use crate::exit::{CliError, Result};
use std::path::PathBuf;
use tessera_catalog::Catalog;
use tessera_core::date::Date;

pub fn run(cli: Cli) -> Result<()> {
    let cat = load_catalog(&cli.global)?;
    let fmt = cli.global.format;
    match cli.command {
        Command::Chips(c) => chips::run(&cat, fmt, c),
        Command::Models(c) => models::run(&cat, fmt, c),
        Command::ExportCheck(a) => export::run(&cat, fmt, a),
        Command::Estimate(crate::cli::EstimateCmd::Train(a)) => estimate::train(&cat, fmt, &a),
        Command::Estimate(crate::cli::EstimateCmd::Serve(a)) => serve::serve(&cat, fmt, &a),
        Command::Validate(crate::cli::ValidateCmd::Serve { data, fit }) => {
            validate::serve(&cat, fmt, data.as_deref(), fit)
        }
        Command::Validate(crate::cli::ValidateCmd::Train { data, fit }) => {
            validate::train(&cat, fmt, data.as_deref(), fit)
        }
        Command::Plan(crate::cli::PlanCmd::Train(a)) => plan::train(&cat, fmt, &a),
        Command::Plan(crate::cli::PlanCmd::Serve(a)) => plan::serve(&cat, fmt, &a),
        Command::Procure(a) => procure::run(&cat, fmt, &a),
        Command::Simulate(a) => simulate::run(&cat, fmt, &a),
        Command::Server(a) => tessera_server::run(&a.config, &cat).map_err(|e| match e {
            tessera_server::ServerError::Config(c) => CliError::Input(c.to_string()),
            e => CliError::Server(e.to_string()),
        }),
        Command::Submit(a) => client::submit(fmt, &a),
        Command::Jobs(a) => client::jobs(fmt, &a),
        Command::Job(a) => client::job(fmt, &a.conn, a.id),
        Command::Cancel(a) => client::cancel(fmt, &a.conn, a.id),
        Command::Scale(a) => client::scale(fmt, &a.conn, a.id, a.replicas),
    }
}

fn default_config_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let d = base.join("tessera").join("catalog");
    d.is_dir().then_some(d)
}

/// Built-in catalog, then the config directory, then each --catalog file.
pub fn load_catalog(g: &Global) -> Result<Catalog> {
    let mut cat = Catalog::builtin()?;
    let dir = match (&g.config_dir, std::env::var_os("TESSERA_CONFIG_DIR")) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(e)) if e.is_empty() => None,
        (None, Some(e)) => Some(PathBuf::from(e)),
        (None, None) => default_config_dir(),
    };
    if let Some(d) = dir {
        cat.merge_dir(&d)?;
    }
    for f in &g.catalog {
        cat.merge_file(f)?;
    }
    Ok(cat)
}

/// Parses a `--date`, defaulting to today (UTC).
pub fn date_arg(s: Option<&str>) -> Result<Date> {
    match s {
        Some(s) => Date::parse(s).map_err(|m| CliError::Usage(format!("--date: {m}"))),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|e| CliError::Internal(format!("system clock before 1970: {e}")))?
                .as_secs();
            Ok(Date::from_days_since_epoch((secs / 86_400) as i64))
        }
    }
}

/// A model with learned absolute positions has no position beyond its table: a longer
/// `--seq-len` is a usage error, not an estimate.
pub(crate) fn check_seq_len(m: &tessera_core::model::ModelArch, seq_len: u32) -> Result<()> {
    if m.position == tessera_core::model::Position::Learned && seq_len as u64 > m.max_seq {
        return Err(crate::exit::CliError::Usage(format!(
            "--seq-len {seq_len}: {} has learned positions up to {} tokens (valid range 1..={})",
            m.id, m.max_seq, m.max_seq
        )));
    }
    Ok(())
}

pub(crate) use tessera_perf::hw::with_unverified;
