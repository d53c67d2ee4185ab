//! tessera's catalogs: chips, models and dated export-control events.
//!
//! The built-in catalog is compiled into the binary from the TOML files in `data/`.
//! Users extend or override it with their own TOML files of the same format
//! (`docs/catalog-format.md`). Every error names the file, line and field.

pub mod chips;
pub mod error;
pub mod events;
pub mod fleets;
pub mod gavel;
pub mod hf;
pub mod jobs;
pub mod lengths;
pub mod models;
pub mod scenarios;
pub mod tomlread;

pub use error::{CatalogError, Diagnostic, Source};

use std::path::Path;
use tessera_core::chip::Chip;
use tessera_core::export::ExportEvent;
use tessera_core::model::ModelArch;
use tessera_core::suggest::nearest;

const BUILTIN_CHIPS: &str = include_str!("../data/chips.toml");
const BUILTIN_CHIPS_ADDED: &str = include_str!("../data/chips-added.toml");
const BUILTIN_MODELS: &str = include_str!("../data/models.toml");
const BUILTIN_EVENTS: &str = include_str!("../data/export-events.toml");

/// The top-level tables a catalog file may hold.
pub const FILE_SECTIONS: [&str; 3] = ["chip", "model", "event"];

/// Chips, models and export events, built-in plus whatever the user added.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub chips: Vec<Chip>,
    pub models: Vec<ModelArch>,
    pub events: Vec<ExportEvent>,
    /// Files merged on top of the built-in data, in order.
    pub user_files: Vec<String>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Result<Catalog, CatalogError> {
        let mut c = Catalog::default();
        c.merge_str("<built-in data/chips.toml>", BUILTIN_CHIPS)?;
        c.merge_str("<built-in data/chips-added.toml>", BUILTIN_CHIPS_ADDED)?;
        c.merge_str("<built-in data/models.toml>", BUILTIN_MODELS)?;
        c.merge_str("<built-in data/export-events.toml>", BUILTIN_EVENTS)?;
        Ok(c)
    }

    /// Merges a catalog file's text: `[[chip]]` entries add or override chips (figure by
    /// figure), `[[model]]` entries add or replace models, `[[event]]` entries add events.
    /// On error nothing is merged.
    pub fn merge_str(&mut self, path: &str, text: &str) -> Result<(), CatalogError> {
        let src = Source::new(path, text);
        let doc = tomlread::parse(src)?;
        let root = doc.get_ref();
        for (k, _) in root.iter() {
            let name: &str = k.get_ref();
            if !FILE_SECTIONS.contains(&name) {
                let near = nearest(name, FILE_SECTIONS, 2);
                let hint = if near.is_empty() {
                    "a catalog file holds [[chip]], [[model]] and [[event]] tables".to_string()
                } else {
                    format!("did you mean [[{}]]?", near[0])
                };
                return Err(src.error_at(
                    Some(k.span().start),
                    Some(name.to_string()),
                    "unknown section",
                    Some(hint),
                ));
            }
        }
        let mut chips = self.chips.clone();
        for (i, (t, at)) in tomlread::array_of_tables(src, root, "chip")?
            .into_iter()
            .enumerate()
        {
            chips::apply_chip(src, t, at, i, &mut chips)?;
        }
        let mut models = self.models.clone();
        let mut seen: Vec<String> = Vec::new();
        for (i, (t, at)) in tomlread::array_of_tables(src, root, "model")?
            .into_iter()
            .enumerate()
        {
            let m = models::read_model(src, t, at, i)?;
            if seen.contains(&m.id) {
                return Err(src.error_at(
                    Some(at),
                    Some(format!("model[{i}].id")),
                    format!("model `{}` is defined twice in this file", m.id),
                    None,
                ));
            }
            seen.push(m.id.clone());
            match models.iter().position(|x| x.id == m.id) {
                Some(p) => models[p] = m,
                None => models.push(m),
            }
        }
        let mut events = self.events.clone();
        let known: Vec<&str> = chips.iter().map(|c| c.id.as_str()).collect();
        for (i, (t, at)) in tomlread::array_of_tables(src, root, "event")?
            .into_iter()
            .enumerate()
        {
            events.push(events::read_event(src, t, at, i, &known)?);
        }
        self.chips = chips;
        self.models = models;
        self.events = events;
        if !path.starts_with("<built-in") {
            self.user_files.push(path.to_string());
        }
        Ok(())
    }

    /// Reads and merges a catalog file.
    pub fn merge_file(&mut self, path: &Path) -> Result<(), CatalogError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CatalogError::Io {
            path: shown.clone(),
            source: e,
        })?;
        self.merge_str(&shown, &text)
    }

    /// Merges every `*.toml` file in a directory, in name order.
    pub fn merge_dir(&mut self, dir: &Path) -> Result<(), CatalogError> {
        let shown = dir.display().to_string();
        let rd = std::fs::read_dir(dir).map_err(|e| CatalogError::Io {
            path: shown.clone(),
            source: e,
        })?;
        let mut files: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect();
        files.sort();
        for f in files {
            self.merge_file(&f)?;
        }
        Ok(())
    }

    /// A chip by its catalog id, or by a short name users type (`h100`, `h20`, `a800`,
    /// `910c`, `mi300x`): a run of whole `-`-separated parts of exactly one id after its
    /// vendor part, else the start of such a run for exactly one id. A short name that
    /// fits several ids (`a100`, `910b`) is an error listing them.
    pub fn chip(&self, id: &str) -> Result<&Chip, CatalogError> {
        if let Some(c) = self.chips.iter().find(|c| c.id == id) {
            return Ok(c);
        }
        let q = id.to_ascii_lowercase();
        for exact in [true, false] {
            let found: Vec<&Chip> = self
                .chips
                .iter()
                .filter(|c| alias_fits(&c.id, &q, exact))
                .collect();
            match found.len() {
                0 => continue,
                1 => return Ok(found[0]),
                _ => {
                    return Err(CatalogError::AmbiguousId {
                        id: id.to_string(),
                        candidates: found.iter().map(|c| c.id.clone()).collect(),
                    });
                }
            }
        }
        // Suggest by the parts users type ("h9000" -> the h100, h200, h800), then by id.
        let parts: Vec<(&str, &str)> = self
            .chips
            .iter()
            .flat_map(|c| c.id.split('-').skip(1).map(move |p| (p, c.id.as_str())))
            .collect();
        let mut suggestions: Vec<String> = Vec::new();
        for near in nearest(&q, parts.iter().map(|(p, _)| *p), 6) {
            for (p, cid) in &parts {
                if *p == near && !suggestions.iter().any(|s| s == cid) {
                    suggestions.push(cid.to_string());
                }
            }
        }
        for near in nearest(id, self.chips.iter().map(|c| c.id.as_str()), 3) {
            if !suggestions.contains(&near) {
                suggestions.push(near);
            }
        }
        suggestions.truncate(3);
        Err(CatalogError::UnknownId {
            kind: "chip",
            id: id.to_string(),
            suggestions,
            listing: "tessera chips list",
        })
    }

    /// A model by catalog id, or by path to a Hugging Face `config.json` (anything that
    /// ends in `.json` or names an existing file).
    /// The chips, training models and serving models a purchase scenario names, in its
    /// order; the error carries the id the catalog does not have.
    #[allow(clippy::type_complexity)]
    pub fn procure_inputs(
        &self,
        sc: &tessera_core::procure::Scenario,
    ) -> Result<(Vec<Chip>, Vec<ModelArch>, Vec<ModelArch>), (CatalogError, String)> {
        let mut chips = Vec::new();
        for id in sc.chip_ids() {
            chips.push(self.chip(id).map_err(|e| (e, id.to_string()))?.clone());
        }
        let model = |m: &str| self.model(m).map_err(|e| (e, m.to_string()));
        let train = sc
            .train
            .iter()
            .map(|t| model(&t.model))
            .collect::<Result<Vec<_>, _>>()?;
        let serve = sc
            .serve
            .iter()
            .map(|t| model(&t.model))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((chips, train, serve))
    }

    pub fn model(&self, id_or_path: &str) -> Result<ModelArch, CatalogError> {
        if let Some(m) = self.models.iter().find(|m| m.id == id_or_path) {
            return Ok(m.clone());
        }
        let p = Path::new(id_or_path);
        if id_or_path.ends_with(".json") || p.is_file() {
            let text = std::fs::read_to_string(p).map_err(|e| CatalogError::Io {
                path: id_or_path.to_string(),
                source: e,
            })?;
            let id = p
                .parent()
                .and_then(|d| d.file_name())
                .filter(|_| p.file_name().is_some_and(|f| f == "config.json"))
                .or_else(|| p.file_stem())
                .map_or_else(|| "custom".to_string(), |s| s.to_string_lossy().to_string());
            return hf::from_hf_config(id_or_path, &text, &id);
        }
        Err(CatalogError::UnknownId {
            kind: "model",
            id: id_or_path.to_string(),
            suggestions: nearest(id_or_path, self.models.iter().map(|m| m.id.as_str()), 3),
            listing: "tessera models list",
        })
    }

    /// Distinct vendors, in catalog order.
    pub fn vendors(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for c in &self.chips {
            if !v.contains(&c.vendor.as_str()) {
                v.push(&c.vendor);
            }
        }
        v
    }
}

/// Whether `q` names chip `id` as a short name: `q` equals a run of whole parts of the id
/// after its vendor part (`exact`), or is the start of such a run.
fn alias_fits(id: &str, q: &str, exact: bool) -> bool {
    if q.is_empty() {
        return false;
    }
    let parts: Vec<&str> = id.split('-').skip(1).collect();
    (0..parts.len()).any(|i| {
        let rest = parts[i..].join("-");
        if exact {
            (i + 1..=parts.len()).any(|j| parts[i..j].join("-") == q)
        } else {
            rest.starts_with(q)
        }
    })
}
