//! Command-line definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Control plane for mixed-vendor AI accelerator fleets",
    long_about = "tessera: what each accelerator can do for your models, which ones you may buy, \
                  and how to lay jobs out on a fleet that mixes vendors.\n\n\
                  Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input file, \
                  4 unknown id, 5 file not readable."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A catalog file (TOML) adding or overriding chips, models and export events.
    /// May be given more than once; later files win.
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Vec<PathBuf>,
    /// A directory whose *.toml catalog files are all loaded (in name order) before any
    /// --catalog file. Default: $TESSERA_CONFIG_DIR (set it empty to load none), else
    /// $XDG_CONFIG_HOME/tessera/catalog or ~/.config/tessera/catalog if it exists.
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Browse and compare the accelerator catalog.
    #[command(subcommand)]
    Chips(ChipsCmd),
    /// Browse the model catalog, or read a Hugging Face config.json.
    #[command(subcommand)]
    Models(ModelsCmd),
    /// Classify a chip under the US export rules (ECCN 3A090), with the arithmetic.
    ExportCheck(ExportCheckArgs),
}

#[derive(Debug, Subcommand)]
pub enum ChipsCmd {
    /// List the chips, optionally of one vendor.
    List {
        /// Only chips whose vendor contains this text (case-insensitive).
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Every figure of one chip, with its status and source.
    Show {
        /// Chip id, e.g. huawei-ascend-910b2 (see `tessera chips list`).
        id: String,
    },
    /// Chips side by side, with ratios to the first. With no ids: the chips of Baidu's
    /// November 2023 decision (Ascend 910B2 vs A800, H800 and H20).
    Compare {
        /// Chip ids; the first is the baseline for ratios.
        ids: Vec<String>,
        /// Date for the export status row (YYYY-MM-DD). Default: 2023-11-17 for the
        /// built-in comparison (the day the October 2023 rule took effect), else today.
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// List the built-in (and user) models.
    List,
    /// A model's shape and derived figures.
    Show {
        /// Model id (see `tessera models list`) or a path to a Hugging Face config.json.
        model: String,
        /// Sequence length for the attention part of the training FLOPs.
        #[arg(long, default_value_t = 4096)]
        seq_len: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleArg {
    #[value(name = "2022-10")]
    Oct2022,
    #[value(name = "2023-10")]
    Oct2023,
    /// The rule in force on --date.
    Latest,
}

#[derive(Debug, Args)]
pub struct ExportCheckArgs {
    /// Chip id.
    pub id: String,
    /// Which rule's verdict heads the report.
    #[arg(long, value_enum, default_value_t = RuleArg::Latest)]
    pub rule: RuleArg,
    /// The date the question is asked on (YYYY-MM-DD); dated events up to it apply.
    /// Default: today.
    #[arg(long)]
    pub date: Option<String>,
}
