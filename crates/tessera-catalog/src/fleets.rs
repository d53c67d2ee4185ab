//! Fleet files: `[[pool]]` and `[[link]]` tables (docs/catalog-format.md).

use crate::error::{CatalogError, Source};
use crate::tomlread::{self, Result, Tbl};
use tessera_core::fleet::{Fleet, LinkKind, Pool, PoolLink};

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
    let links = read_links(src, root, "pools", "pools", |n| {
        (!pools.iter().any(|p| p.name == n)).then(|| format!("no pool named `{n}` in this fleet"))
    })?;
    Ok(Fleet {
        id,
        name,
        description: t.opt_str("description")?,
        pools,
        links,
    })
}

/// The `[[link]]` tables under `root` (fleet files and purchase scenarios share them):
/// `key` names the two things joined (`pools`, `chips`), `what` says what they are in
/// errors, and `unknown` gives the error for a name the file does not define.
pub(crate) fn read_links<'a, 'i>(
    src: Source<'a>,
    root: &'a toml::de::DeTable<'i>,
    key: &str,
    what: &str,
    unknown: impl Fn(&str) -> Option<String>,
) -> Result<Vec<PoolLink>> {
    let mut links = Vec::new();
    for (ctx, lt, at) in tomlread::named_tables(src, root, "link")? {
        let l = Tbl::new(src, lt, at, &ctx);
        l.deny_unknown(&[key, "gb-s", "kind", "latency-us", "copy-gb-s"])?;
        let names = l.opt_str_list(key)?;
        if names.len() != 2 || names[0] == names[1] {
            return Err(l.err(
                key,
                at,
                format!("a link joins exactly two different {what}"),
                None,
            ));
        }
        for n in &names {
            if let Some(why) = unknown(n) {
                return Err(l.err(key, at, why, None));
            }
        }
        links.push(link_fields(&l, at, &names[0], &names[1])?);
    }
    Ok(links)
}

/// The fields of a `[[link]]` table beside the two names it joins: `gb-s`, `kind`,
/// `latency-us`, `copy-gb-s`.
fn link_fields(l: &Tbl<'_, '_>, at: usize, a: &str, b: &str) -> Result<PoolLink> {
    let gb = l.opt_f64("gb-s")?.ok_or_else(|| {
        l.missing(
            "gb-s",
            Some("the bandwidth per chip between the two pools, GB/s".into()),
        )
    })?;
    if !(gb > 0.0 && gb <= 10_000.0) {
        return Err(l.err(
            "gb-s",
            at,
            format!("valid range (0, 10000] GB/s per chip, not {gb}"),
            None,
        ));
    }
    let kind = match l.opt_str("kind")? {
        None => LinkKind::Rdma,
        Some(k) => LinkKind::parse(&k).ok_or_else(|| {
            l.err(
                "kind",
                at,
                format!("unknown link kind `{k}`"),
                Some(format!("one of {}", LinkKind::NAMES.join(", "))),
            )
        })?,
    };
    let mut link = PoolLink::new(a, b, gb, kind);
    if let Some(us) = l.opt_f64("latency-us")? {
        if us > 1e6 {
            return Err(l.err(
                "latency-us",
                at,
                format!("valid range [0, 1000000] microseconds, not {us}"),
                None,
            ));
        }
        link.latency_s = us * 1e-6;
    }
    if let Some(c) = l.opt_f64("copy-gb-s")? {
        if kind != LinkKind::HostStaged {
            return Err(l.err(
                "copy-gb-s",
                at,
                "only a host-staged link copies through host memory",
                Some("set kind = \"host-staged\" or remove copy-gb-s".into()),
            ));
        }
        if !(c > 0.0 && c <= 10_000.0) {
            return Err(l.err(
                "copy-gb-s",
                at,
                format!("valid range (0, 10000] GB/s, not {c}"),
                None,
            ));
        }
        link.copy_gb_s = c;
    }
    Ok(link)
}

/// A built-in fleet by id.
pub fn builtin_fleet(id: &str) -> Option<std::result::Result<Fleet, CatalogError>> {
    BUILTIN_FLEETS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(i, t)| parse_fleet(&format!("<built-in fleet {i}>"), t))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const POOLS: &str = "[[pool]]\nname = \"a\"\nchip = \"x\"\nnodes = 1\nchips-per-node = 8\n\
                         [[pool]]\nname = \"b\"\nchip = \"y\"\nnodes = 1\nchips-per-node = 8\n";

    fn link(body: &str) -> std::result::Result<Fleet, String> {
        parse_fleet(
            "f.toml",
            &format!("{POOLS}[[link]]\npools = [\"a\", \"b\"]\n{body}"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn links_have_a_kind_a_latency_and_a_copy_rate() {
        let f = link("gb-s = 12.5\n").unwrap();
        let l = &f.links[0];
        assert_eq!(l.kind, LinkKind::Rdma);
        assert_eq!(l.latency_s, LinkKind::Rdma.default_latency_s());
        assert_eq!(l.bytes_per_s(), 12.5e9);
        let f =
            link("gb-s = 12.5\nkind = \"host-staged\"\nlatency-us = 80\ncopy-gb-s = 8\n").unwrap();
        let l = &f.links[0];
        assert_eq!(l.kind, LinkKind::HostStaged);
        assert!((l.latency_s - 80e-6).abs() < 1e-15);
        // The host copies are the slower stage here.
        assert_eq!(l.bytes_per_s(), 8e9);
        assert!((l.transfer_s(8e9) - (1.0 + 80e-6)).abs() < 1e-12);
        assert_eq!(l.transfer_s(0.0), 0.0);
        let f = link("gb-s = 50\nkind = \"flagcx\"\n").unwrap();
        assert_eq!(f.links[0].kind, LinkKind::FlagCx);
    }

    #[test]
    fn bad_links_name_their_line_and_field() {
        for (body, field, text) in [
            ("gb-s = 0\n", "gb-s", "valid range (0, 10000]"),
            (
                "gb-s = 1\nkind = \"pcie\"\n",
                "kind",
                "unknown link kind `pcie`",
            ),
            (
                "gb-s = 1\ncopy-gb-s = 5\n",
                "copy-gb-s",
                "only a host-staged link",
            ),
            (
                "gb-s = 1\nkind = \"host-staged\"\ncopy-gb-s = 0\n",
                "copy-gb-s",
                "valid range (0, 10000]",
            ),
            (
                "gb-s = 1\nlatency-us = 2000000\n",
                "latency-us",
                "valid range [0, 1000000]",
            ),
            ("gb-s = 1\nlatency = 3\n", "latency", "latency"),
        ] {
            let e = link(body).unwrap_err();
            assert!(e.contains("f.toml"), "{e}");
            assert!(e.contains(field) && e.contains(text), "{body}: {e}");
        }
        let e = link("gb-s = 1\nkind = \"pcie\"\n").unwrap_err();
        assert!(e.contains("rdma, host-staged, flagcx"), "{e}");
    }
}
