//! Fleet files: `[[pool]]` and `[[link]]` tables (docs/catalog-format.md).

use crate::error::{CatalogError, Source};
use crate::tomlread::{self, Result, Tbl};
use tessera_core::fleet::{Fleet, Pool, PoolLink};

/// Built-in fleets: (id, TOML).
pub const BUILTIN_FLEETS: [(&str, &str); 2] = [
    ("baidu-2023", include_str!("../data/fleets/baidu-2023.toml")),
    ("h100-16k", include_str!("../data/fleets/h100-16k.toml")),
];

/// Parses a fleet file. Chip ids are checked by the caller against the catalog.
pub fn parse_fleet(path: &str, text: &str) -> Result<Fleet> {
    let src = Source::new(path, text);
    let doc = tomlread::parse(src)?;
    let root = doc.get_ref();
    let t = Tbl::new(src, root, 0, "");
    t.deny_unknown(&["id", "name", "description", "pool", "link"])?;
    let id = t.opt_str("id")?.unwrap_or_else(|| {
        path.rsplit('/')
            .next()
            .unwrap_or(path)
            .trim_end_matches(".toml")
            .to_string()
    });
    let name = t.opt_str("name")?.unwrap_or_else(|| id.clone());
    let mut pools: Vec<Pool> = Vec::new();
    for (ctx, pt, at) in tomlread::named_tables(src, root, "pool")? {
        let p = Tbl::new(src, pt, at, &ctx);
        p.deny_unknown(&[
            "name",
            "chip",
            "nodes",
            "chips-per-node",
            "scale-up-domain",
            "scale-out-gb-s",
        ])?;
        let pname = p.req_str("name")?;
        if pools.iter().any(|x| x.name == pname) {
            return Err(p.err("name", at, format!("pool `{pname}` is defined twice"), None));
        }
        let nodes = p.req_u64("nodes")?;
        let per = p.req_u64("chips-per-node")?;
        if nodes == 0 || per == 0 || nodes > 1_000_000 || per > 1024 {
            return Err(p.err("nodes", at, format!("{nodes} nodes of {per} chips is out of range (1..=1,000,000 nodes, 1..=1,024 chips each)"), None));
        }
        let domain = p.opt_u64("scale-up-domain")?;
        if domain.is_some_and(|d| d == 0 || d > 1_000_000) {
            return Err(p.err(
                "scale-up-domain",
                at,
                "must be between 1 and 1,000,000",
                None,
            ));
        }
        pools.push(Pool {
            name: pname,
            chip: p.req_str("chip")?,
            nodes: nodes as u32,
            chips_per_node: per as u32,
            scale_up_domain: domain.map(|d| d as u32),
            scale_out_gb_s: p.opt_f64("scale-out-gb-s")?,
        });
    }
    if pools.is_empty() {
        return Err(src.error_at(
            Some(0),
            Some("pool".into()),
            "a fleet needs at least one [[pool]]",
            None,
        ));
    }
    let mut links = Vec::new();
    for (ctx, lt, at) in tomlread::named_tables(src, root, "link")? {
        let l = Tbl::new(src, lt, at, &ctx);
        l.deny_unknown(&["pools", "gb-s"])?;
        let names = l.opt_str_list("pools")?;
        if names.len() != 2 || names[0] == names[1] {
            return Err(l.err(
                "pools",
                at,
                "a link joins exactly two different pools",
                None,
            ));
        }
        for n in &names {
            if !pools.iter().any(|p| &p.name == n) {
                return Err(l.err(
                    "pools",
                    at,
                    format!("no pool named `{n}` in this fleet"),
                    None,
                ));
            }
        }
        let gb = l.opt_f64("gb-s")?.ok_or_else(|| {
            l.missing(
                "gb-s",
                Some("the bandwidth per chip between the two pools, GB/s".into()),
            )
        })?;
        links.push(PoolLink {
            a: names[0].clone(),
            b: names[1].clone(),
            gb_s_per_chip: gb,
        });
    }
    Ok(Fleet {
        id,
        name,
        description: t.opt_str("description")?,
        pools,
        links,
    })
}

/// A built-in fleet by id.
pub fn builtin_fleet(id: &str) -> Option<std::result::Result<Fleet, CatalogError>> {
    BUILTIN_FLEETS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(i, t)| parse_fleet(&format!("<built-in fleet {i}>"), t))
}
