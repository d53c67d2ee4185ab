//! The server's configuration file (TOML) and the tokens file. Every key is documented
//! in docs/server.md; an unknown key is an error naming the file, line and key.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A configuration error, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerConfig {
    /// Address to listen on (127.0.0.1:8473 by default).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `sqlite:PATH` (the default, `sqlite:tessera.db` beside the config) or a
    /// `postgres://` URL.
    #[serde(default)]
    pub state: Option<String>,
    /// The tokens file (relative to the config file).
    pub tokens: String,
    /// Whether reads need a token too.
    #[serde(default)]
    pub read_needs_token: bool,
    /// Any `tessera simulate` policy.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Seconds between scheduling rounds.
    #[serde(default = "default_round")]
    pub round_s: f64,
    /// The LP method of the LP policies: `simplex` (default) or `interior`.
    #[serde(default)]
    pub solver: Option<String>,
    /// Training jobs may also run at half or twice their chips on a pool.
    #[serde(default)]
    pub elastic: bool,
    /// Where engine scripts and outputs go (relative to the config file).
    #[serde(default = "default_spool")]
    pub spool: String,
    /// Largest request body, bytes.
    #[serde(default = "default_body")]
    pub max_body_bytes: usize,
    #[serde(default)]
    pub engine: Vec<EngineConfig>,
    #[serde(default)]
    pub pool: Vec<PoolConfig>,
    /// Links between pools, for mixed-vendor plans over the live fleet.
    #[serde(default)]
    pub link: Vec<LinkConfig>,
}

/// The bandwidth between two pools, as in a fleet file's `[[link]]`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LinkConfig {
    /// The two pools' names.
    pub pools: Vec<String>,
    /// GB/s per chip between them.
    pub gb_s: f64,
    /// `rdma` (default), `host-staged` or `flagcx`, as in a fleet file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Latency of one transfer, microseconds (default: the kind's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<f64>,
    /// Host-staged links: each host copy's rate, GB/s (default 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_gb_s: Option<f64>,
}

impl LinkConfig {
    /// The core link this entry states (validated when the configuration is read).
    pub fn to_link(&self) -> tessera_core::fleet::PoolLink {
        use tessera_core::fleet::{LinkKind, PoolLink};
        let kind = self
            .kind
            .as_deref()
            .and_then(LinkKind::parse)
            .unwrap_or(LinkKind::Rdma);
        let mut l = PoolLink::new(&self.pools[0], &self.pools[1], self.gb_s, kind);
        if let Some(us) = self.latency_us {
            l.latency_s = us * 1e-6;
        }
        if let Some(c) = self.copy_gb_s {
            l.copy_gb_s = c;
        }
        l
    }
}

fn default_listen() -> String {
    "127.0.0.1:8473".into()
}
fn default_policy() -> String {
    "max-min-fairness-perf".into()
}
fn default_round() -> f64 {
    60.0
}
fn default_spool() -> String {
    "spool".into()
}
fn default_body() -> usize {
    1024 * 1024
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EngineConfig {
    pub name: String,
    /// `slurm`, `ray` or `kubernetes`.
    pub kind: String,
    /// Ray: the dashboard's `http://HOST:PORT` (its Jobs API; 8265 by default).
    #[serde(default)]
    pub url: Option<String>,
    /// Kubernetes: the kubeconfig file; absent: `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster service account.
    #[serde(default)]
    pub kubeconfig: Option<String>,
    /// Kubernetes: the namespace of tessera's objects.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Kubernetes: the Volcano queue of the gangs' PodGroups.
    #[serde(default)]
    pub queue: Option<String>,
    /// Kubernetes: the image a job's script runs in (it needs bash).
    #[serde(default)]
    pub image: Option<String>,
    /// `SLURM_CONF` for this engine; absent: the environment's.
    #[serde(default)]
    pub slurm_conf: Option<String>,
    /// Directory of the Slurm tools; absent: PATH.
    #[serde(default)]
    pub bin: Option<String>,
    /// slurmrestd's `http://HOST:PORT`: dispatch through Slurm's REST API (v0.0.38)
    /// instead of the command-line tools.
    #[serde(default)]
    pub rest_url: Option<String>,
    /// The Slurm user the REST calls are made as (`X-SLURM-USER-NAME`).
    #[serde(default)]
    pub rest_user: Option<String>,
    /// A file holding the JWT (`scontrol token` output), read again for every call.
    #[serde(default)]
    pub rest_token_file: Option<String>,
    /// Or the environment variable holding the JWT, read at start.
    #[serde(default)]
    pub rest_token_env: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PoolConfig {
    pub name: String,
    /// Catalog chip id or alias.
    pub chip: String,
    /// The engine's name.
    pub engine: String,
    /// Slurm: the partition.
    #[serde(default)]
    pub partition: String,
    /// Slurm: `NAME:TYPE` (`gpu:ascend910b`) or just the type (the name is then `gpu`).
    #[serde(default)]
    pub gres: String,
    /// Ray: the resource the pool's chips are counted in (`GPU`, `NPU`, or a custom one
    /// such as `P800`); Kubernetes: the device plugin's extended resource
    /// (`nvidia.com/gpu`, `huawei.com/Ascend910`).
    #[serde(default)]
    pub resource: Option<String>,
}

impl EngineConfig {
    /// The Slurm engines' own keys, and whether each is set.
    fn slurm_keys(&self) -> [(&'static str, bool); 6] {
        [
            ("slurm-conf", self.slurm_conf.is_some()),
            ("bin", self.bin.is_some()),
            ("rest-url", self.rest_url.is_some()),
            ("rest-user", self.rest_user.is_some()),
            ("rest-token-file", self.rest_token_file.is_some()),
            ("rest-token-env", self.rest_token_env.is_some()),
        ]
    }
}

impl PoolConfig {
    /// (GRES name, GRES type); for a Ray or Kubernetes pool `("ray" or "k8s", resource)`.
    pub fn gres_parts(&self) -> (String, String) {
        if let Some(r) = &self.resource {
            let kind = if r.contains('/') { "k8s" } else { "ray" };
            return (kind.into(), r.clone());
        }
        match self.gres.split_once(':') {
            Some((n, t)) => (n.to_string(), t.to_string()),
            None => ("gpu".into(), self.gres.clone()),
        }
    }
}

/// Reads a TOML file into `T`; toml's errors carry the line, column and key.
fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ConfigError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        path: p.clone(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError {
        path: p,
        message: e.to_string().trim_end().to_string(),
    })
}

impl ServerConfig {
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let c: ServerConfig = read_toml(path)?;
        let err = |m: String| ConfigError {
            path: path.display().to_string(),
            message: m,
        };
        if !(c.round_s.is_finite() && (1.0..=86_400.0).contains(&c.round_s)) {
            return Err(err(format!(
                "round-s: valid range 1..=86400, not {}",
                c.round_s
            )));
        }
        if tessera_sched::sim::Policy::parse(&c.policy).is_none() {
            return Err(err(format!(
                "policy: unknown policy `{}`; known: {}",
                c.policy,
                tessera_sched::sim::Policy::NAMES.join(", ")
            )));
        }
        if let Some(sv) = &c.solver
            && tessera_sched::Solver::parse(sv).is_none()
        {
            return Err(err(format!(
                "solver: unknown solver `{sv}`; use {}",
                tessera_sched::Solver::NAMES.join(" or ")
            )));
        }
        for e in &c.engine {
            let k8s_keys = [
                ("kubeconfig", e.kubeconfig.is_some()),
                ("namespace", e.namespace.is_some()),
                ("queue", e.queue.is_some()),
                ("image", e.image.is_some()),
            ];
            if e.kind == "kubernetes" {
                let mut other = e.slurm_keys().to_vec();
                other.push(("url", e.url.is_some()));
                if let Some((k, _)) = other.iter().find(|(_, set)| *set) {
                    return Err(err(format!(
                        "engine {}: `{k}` is not a kubernetes engine key (kubeconfig, namespace, queue, image)",
                        e.name
                    )));
                }
                if e.image.as_deref().is_none_or(str::is_empty) {
                    return Err(err(format!(
                        "engine {}: kind kubernetes needs image (what a job's script runs in; it needs bash)",
                        e.name
                    )));
                }
                for (k, v) in [("namespace", &e.namespace), ("queue", &e.queue)] {
                    if let Some(v) = v
                        && !tessera_engine::k8s::dns_label(v)
                    {
                        return Err(err(format!(
                            "engine {}: {k} `{v}` is not a DNS-1123 label",
                            e.name
                        )));
                    }
                }
                continue;
            }
            if let Some((k, _)) = k8s_keys.iter().find(|(_, set)| *set) {
                return Err(err(format!(
                    "engine {}: `{k}` is a kubernetes engine key",
                    e.name
                )));
            }
            if e.kind == "ray" {
                if let Some((k, _)) = e.slurm_keys().iter().find(|(_, set)| *set) {
                    return Err(err(format!(
                        "engine {}: `{k}` is a Slurm key; a ray engine takes `url`",
                        e.name
                    )));
                }
                match &e.url {
                    None => {
                        return Err(err(format!(
                            "engine {}: kind ray needs url (the dashboard's http://HOST:PORT)",
                            e.name
                        )));
                    }
                    Some(u) => {
                        if let Err(m) = tessera_engine::http::parse_url(u) {
                            return Err(err(format!("engine {}: url `{u}`: {m}", e.name)));
                        }
                    }
                }
                continue;
            }
            if e.kind != "slurm" {
                return Err(err(format!(
                    "engine {}: kind `{}` is not supported; use slurm, ray or kubernetes",
                    e.name, e.kind
                )));
            }
            if e.url.is_some() {
                return Err(err(format!(
                    "engine {}: `url` is for ray engines; slurmrestd is `rest-url`",
                    e.name
                )));
            }
            let rest_keys = [
                e.rest_user.is_some(),
                e.rest_token_file.is_some(),
                e.rest_token_env.is_some(),
            ];
            match &e.rest_url {
                Some(u) => {
                    if let Err(m) = tessera_engine::http::parse_url(u) {
                        return Err(err(format!("engine {}: rest-url `{u}`: {m}", e.name)));
                    }
                    if e.rest_user.is_none() {
                        return Err(err(format!(
                            "engine {}: rest-url needs rest-user (the Slurm user the calls are made as)",
                            e.name
                        )));
                    }
                    if e.rest_token_file.is_some() == e.rest_token_env.is_some() {
                        return Err(err(format!(
                            "engine {}: rest-url needs exactly one of rest-token-file and rest-token-env",
                            e.name
                        )));
                    }
                }
                None if rest_keys.iter().any(|&k| k) => {
                    return Err(err(format!(
                        "engine {}: rest-user, rest-token-file and rest-token-env need rest-url",
                        e.name
                    )));
                }
                None => {}
            }
        }
        for p in &c.pool {
            let Some(e) = c.engine.iter().find(|e| e.name == p.engine) else {
                return Err(err(format!(
                    "pool {}: no engine named `{}`",
                    p.name, p.engine
                )));
            };
            if e.kind == "kubernetes" {
                if !p.partition.is_empty() || !p.gres.is_empty() {
                    return Err(err(format!(
                        "pool {}: engine {} is a kubernetes engine: give `resource` (the device plugin's, e.g. nvidia.com/gpu), not partition or gres; nodes are chosen by their tessera.io/chip label",
                        p.name, e.name
                    )));
                }
                match p.resource.as_deref() {
                    Some(r)
                        if !r.is_empty()
                            && r.contains('/')
                            && r.chars()
                                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) => {}
                    Some(r) => {
                        return Err(err(format!(
                            "pool {}: resource `{r}` is not an extended resource name (vendor-domain/name, e.g. huawei.com/Ascend910)",
                            p.name
                        )));
                    }
                    // The catalog's device-plugin resource of the chip (filled in at start).
                    None => {}
                }
            } else if e.kind == "ray" {
                if !p.partition.is_empty() || !p.gres.is_empty() {
                    return Err(err(format!(
                        "pool {}: engine {} is a ray engine: give `resource` (GPU, NPU or a custom resource), not partition or gres",
                        p.name, e.name
                    )));
                }
                match p.resource.as_deref() {
                    Some(r)
                        if !r.is_empty()
                            && r.chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => {}
                    Some(r) => {
                        return Err(err(format!(
                            "pool {}: resource `{r}`: letters, digits, `_` and `-` only",
                            p.name
                        )));
                    }
                    None => {
                        return Err(err(format!(
                            "pool {}: a pool on ray engine {} needs `resource` (GPU, NPU or a custom resource)",
                            p.name, e.name
                        )));
                    }
                }
            } else {
                if p.resource.is_some() {
                    return Err(err(format!(
                        "pool {}: `resource` is for ray pools; a Slurm pool has partition and gres",
                        p.name
                    )));
                }
                if p.partition.is_empty() || p.gres.is_empty() {
                    return Err(err(format!(
                        "pool {}: a Slurm pool needs partition and gres",
                        p.name
                    )));
                }
            }
        }
        let mut names: Vec<&str> = c.pool.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(format!("pool {}: defined twice", w[0])));
        }
        if c.pool.is_empty() {
            return Err(err("no [[pool]]: the server needs at least one".into()));
        }
        for (i, l) in c.link.iter().enumerate() {
            if l.pools.len() != 2 || l.pools[0] == l.pools[1] {
                return Err(err(format!(
                    "link {}: pools must name exactly two different pools",
                    i + 1
                )));
            }
            if let Some(n) = l
                .pools
                .iter()
                .find(|n| !c.pool.iter().any(|p| &p.name == *n))
            {
                return Err(err(format!("link {}: no pool named `{n}`", i + 1)));
            }
            if !(l.gb_s.is_finite() && l.gb_s > 0.0 && l.gb_s <= 10_000.0) {
                return Err(err(format!(
                    "link {}: gb-s valid range (0, 10000] GB/s per chip, not {}",
                    i + 1,
                    l.gb_s
                )));
            }
            if let Some(k) = &l.kind
                && tessera_core::fleet::LinkKind::parse(k).is_none()
            {
                return Err(err(format!(
                    "link {}: kind must be one of {}, not `{k}`",
                    i + 1,
                    tessera_core::fleet::LinkKind::NAMES.join(", ")
                )));
            }
            if let Some(us) = l.latency_us
                && !(us.is_finite() && (0.0..=1e6).contains(&us))
            {
                return Err(err(format!(
                    "link {}: latency-us valid range [0, 1000000], not {us}",
                    i + 1
                )));
            }
            if let Some(c) = l.copy_gb_s
                && (!(c.is_finite() && c > 0.0 && c <= 10_000.0)
                    || l.kind.as_deref() != Some("host-staged"))
            {
                return Err(err(format!(
                    "link {}: copy-gb-s is for kind = \"host-staged\" links, in (0, 10000] GB/s, not {c}",
                    i + 1
                )));
            }
        }
        if c.max_body_bytes < 1024 {
            return Err(err("max-body-bytes: at least 1024".into()));
        }
        Ok(c)
    }

    /// Where the state lives: a SQLite file (resolved against the config file's
    /// directory) or a PostgreSQL URL.
    pub fn state_location(&self, config_dir: &Path) -> Result<StateLocation, String> {
        match self.state.as_deref() {
            None => Ok(StateLocation::Sqlite(config_dir.join("tessera.db"))),
            Some(s) if s.starts_with("sqlite:") => Ok(StateLocation::Sqlite(
                config_dir.join(&s["sqlite:".len()..]),
            )),
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Ok(StateLocation::Postgres(s.to_string()))
            }
            Some(s) => Err(format!(
                "state: `{s}` is neither sqlite:PATH nor a postgres:// URL"
            )),
        }
    }
}

/// Where the server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // The URL may hold a password: show the host part only.
            StateLocation::Postgres(u) => {
                let host = u.rsplit('@').next().unwrap_or(u);
                write!(
                    f,
                    "postgres://…@{}",
                    host.trim_start_matches("postgres://")
                        .trim_start_matches("postgresql://")
                )
            }
        }
    }
}

/// One team's token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TokenEntry {
    pub team: String,
    /// The token itself; prefer `token-sha256`.
    #[serde(default)]
    pub token: Option<String>,
    /// Hex SHA-256 of the token.
    #[serde(default)]
    pub token_sha256: Option<String>,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<TokenEntry>,
}

/// A caller, once its token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub team: String,
    pub admin: bool,
}

/// Tokens, held only as SHA-256 hashes.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: Vec<([u8; 32], Caller)>,
}

/// SHA-256 of a token.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    pub fn load(path: &Path) -> Result<Tokens, ConfigError> {
        let f: TokensFile = read_toml(path)?;
        let err = |m: String| ConfigError {
            path: path.display().to_string(),
            message: m,
        };
        let mut by_hash = Vec::new();
        for t in f.token {
            let h = match (&t.token, &t.token_sha256) {
                (Some(tok), None) if tok.len() >= 16 => hash_token(tok),
                (Some(_), None) => {
                    return Err(err(format!(
                        "team {}: a token needs at least 16 characters",
                        t.team
                    )));
                }
                (None, Some(h)) => parse_hex32(h).ok_or_else(|| {
                    err(format!(
                        "team {}: token-sha256 must be 64 hex digits",
                        t.team
                    ))
                })?,
                _ => {
                    return Err(err(format!(
                        "team {}: give exactly one of token and token-sha256",
                        t.team
                    )));
                }
            };
            by_hash.push((
                h,
                Caller {
                    team: t.team,
                    admin: t.admin,
                },
            ));
        }
        Ok(Tokens { by_hash })
    }

    /// The caller a bearer token belongs to.
    pub fn check(&self, token: &str) -> Option<&Caller> {
        let h = hash_token(token);
        // Compare every entry in full, so timing does not tell which prefix matched.
        let mut found = None;
        for (k, c) in &self.by_hash {
            let same = k.iter().zip(&h).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            if same {
                found = Some(c);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(engine_lines: &str) -> Result<ServerConfig, ConfigError> {
        let dir = std::env::temp_dir().join(format!(
            "tessera-config-{}-{}",
            std::process::id(),
            hash_token(engine_lines)[0]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tessera.toml");
        std::fs::write(
            &p,
            format!(
                "tokens = \"t.toml\"\n[[engine]]\nname = \"s\"\nkind = \"slurm\"\n{engine_lines}\n[[pool]]\nname = \"a\"\nchip = \"a800\"\nengine = \"s\"\npartition = \"p\"\ngres = \"gpu:a800\"\n"
            ),
        )
        .unwrap();
        ServerConfig::load(&p)
    }

    #[test]
    fn the_example_configuration_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/server/tessera.toml");
        let c = ServerConfig::load(&p).unwrap();
        assert_eq!(c.pool.len(), 3);
        assert_eq!(c.link.len(), 1);
        assert_eq!(c.link[0].gb_s, 12.5);
        let l = c.link[0].to_link();
        assert_eq!(l.kind, tessera_core::fleet::LinkKind::HostStaged);
        assert_eq!(l.bytes_per_s(), 12.5e9);
    }

    #[test]
    fn rest_engines_need_a_url_a_user_and_one_token() {
        let ok = load(
            "rest-url = \"http://127.0.0.1:16820\"\nrest-user = \"root\"\nrest-token-file = \"jwt\"",
        )
        .unwrap();
        assert_eq!(ok.engine[0].rest_user.as_deref(), Some("root"));
        for (lines, says) in [
            (
                "rest-url = \"http://h:1\"\nrest-token-env = \"T\"",
                "rest-user",
            ),
            (
                "rest-url = \"http://h:1\"\nrest-user = \"u\"",
                "exactly one of rest-token-file and rest-token-env",
            ),
            (
                "rest-url = \"http://h:1\"\nrest-user = \"u\"\nrest-token-env = \"T\"\nrest-token-file = \"f\"",
                "exactly one",
            ),
            (
                "rest-url = \"https://h:1\"\nrest-user = \"u\"\nrest-token-env = \"T\"",
                "https",
            ),
            ("rest-user = \"u\"", "need rest-url"),
            ("rest-colour = 1", "rest-colour"),
            (
                "[[link]]\npools = [\"a\", \"a\"]\ngb-s = 1",
                "two different pools",
            ),
            (
                "[[link]]\npools = [\"a\", \"b\"]\ngb-s = 1",
                "no pool named `b`",
            ),
            (
                "[[link]]\npools = [\"a\", \"a2\"]\ngb-s = 1\nkind = \"pcie\"\n[[pool]]\nname = \"a2\"\nchip = \"a800\"\nengine = \"s\"\npartition = \"p\"\ngres = \"gpu:a800\"",
                "kind must be one of rdma, host-staged, flagcx",
            ),
            (
                "[[link]]\npools = [\"a\", \"a2\"]\ngb-s = 1\ncopy-gb-s = 9\n[[pool]]\nname = \"a2\"\nchip = \"a800\"\nengine = \"s\"\npartition = \"p\"\ngres = \"gpu:a800\"",
                "copy-gb-s is for kind = \"host-staged\"",
            ),
        ] {
            let e = load(lines).expect_err(lines);
            assert!(e.to_string().contains(says), "{lines}: {e}");
        }
    }

    fn load_text(name: &str, text: &str) -> Result<ServerConfig, ConfigError> {
        let dir =
            std::env::temp_dir().join(format!("tessera-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tessera.toml");
        std::fs::write(&p, text).unwrap();
        ServerConfig::load(&p)
    }

    #[test]
    fn ray_engines_take_a_url_and_pools_a_resource() {
        let ray = |engine: &str, pool: &str| {
            format!(
                "tokens = \"t.toml\"\n[[engine]]\nname = \"r\"\nkind = \"ray\"\n{engine}\n[[pool]]\nname = \"p\"\nchip = \"kunlunxin-p800\"\nengine = \"r\"\n{pool}\n"
            )
        };
        let ok = load_text(
            "ray-ok",
            &ray("url = \"http://127.0.0.1:8265\"", "resource = \"P800\""),
        )
        .unwrap();
        assert_eq!(
            ok.pool[0].gres_parts(),
            ("ray".to_string(), "P800".to_string())
        );
        for (i, (engine, pool, says)) in [
            ("", "resource = \"P800\"", "needs url"),
            ("url = \"https://h:1\"", "resource = \"P800\"", "https"),
            (
                "url = \"http://h:1\"\nrest-url = \"http://h:2\"",
                "resource = \"P800\"",
                "`rest-url` is a Slurm key",
            ),
            ("url = \"http://h:1\"", "", "needs `resource`"),
            (
                "url = \"http://h:1\"",
                "resource = \"P800\"\npartition = \"x\"",
                "not partition or gres",
            ),
            (
                "url = \"http://h:1\"",
                "resource = \"a b\"",
                "letters, digits",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let e = load_text(&format!("ray-bad-{i}"), &ray(engine, pool)).expect_err(pool);
            assert!(e.to_string().contains(says), "{engine} / {pool}: {e}");
        }
        let e = load("url = \"http://h:1\"").unwrap_err();
        assert!(e.to_string().contains("`url` is for ray engines"), "{e}");
        let slurm_with_resource = "tokens = \"t.toml\"\n[[engine]]\nname = \"s\"\nkind = \"slurm\"\n[[pool]]\nname = \"a\"\nchip = \"a800\"\nengine = \"s\"\nresource = \"GPU\"\n";
        let e = load_text("slurm-resource", slurm_with_resource).unwrap_err();
        assert!(e.to_string().contains("`resource` is for ray pools"), "{e}");
    }

    #[test]
    fn kubernetes_engines_take_an_image_and_pools_a_device_resource() {
        let k8s = |engine: &str, pool: &str| {
            format!(
                "tokens = \"t.toml\"\n[[engine]]\nname = \"k\"\nkind = \"kubernetes\"\n{engine}\n[[pool]]\nname = \"p\"\nchip = \"910b2\"\nengine = \"k\"\n{pool}\n"
            )
        };
        let ok = load_text(
            "k8s-ok",
            &k8s(
                "image = \"registry.example.com/base:1\"\nnamespace = \"ml\"\nqueue = \"research\"",
                "resource = \"huawei.com/Ascend910\"",
            ),
        )
        .unwrap();
        assert_eq!(ok.pool[0].gres_parts().0, "k8s");
        for (i, (engine, pool, says)) in [
            ("", "resource = \"huawei.com/Ascend910\"", "needs image"),
            (
                "image = \"i\"\nnamespace = \"Not_A_Label\"",
                "resource = \"huawei.com/Ascend910\"",
                "DNS-1123",
            ),
            (
                "image = \"i\"\nurl = \"http://h:1\"",
                "resource = \"huawei.com/Ascend910\"",
                "not a kubernetes engine key",
            ),
            (
                "image = \"i\"",
                "resource = \"NPU\"",
                "extended resource name",
            ),
            (
                "image = \"i\"",
                "resource = \"huawei.com/Ascend910\"\npartition = \"x\"",
                "not partition or gres",
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let e = load_text(&format!("k8s-bad-{i}"), &k8s(engine, pool)).expect_err(pool);
            assert!(e.to_string().contains(says), "{engine} / {pool}: {e}");
        }
        let e = load("image = \"i\"").unwrap_err();
        assert!(e.to_string().contains("kubernetes engine key"), "{e}");
    }

    #[test]
    fn the_solver_is_simplex_or_interior() {
        let doc = |v: &str| {
            format!(
                "tokens = \"t.toml\"\nsolver = \"{v}\"\n[[engine]]\nname = \"s\"\nkind = \"slurm\"\n[[pool]]\nname = \"a\"\nchip = \"a800\"\nengine = \"s\"\npartition = \"p\"\ngres = \"gpu:a800\"\n"
            )
        };
        let c = load_text("solver-ok", &doc("interior")).unwrap();
        assert_eq!(c.solver.as_deref(), Some("interior"));
        let e = load_text("solver-bad", &doc("ecos")).unwrap_err();
        assert!(e.to_string().contains("use simplex or interior"), "{e}");
    }
}
