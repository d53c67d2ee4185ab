//! Fleets: pools of one chip type each, and the links between pools.

/// A pool of identical chips.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub name: String,
    /// Chip id in the catalog.
    pub chip: String,
    pub nodes: u32,
    pub chips_per_node: u32,
    /// Chips in one scale-up domain; `None` takes the catalog's figure.
    pub scale_up_domain: Option<u32>,
    /// Scale-out bandwidth per chip, GB/s; `None` takes the catalog's figure.
    pub scale_out_gb_s: Option<f64>,
}

impl Pool {
    pub fn chips(&self) -> u64 {
        self.nodes as u64 * self.chips_per_node as u64
    }
}

/// How data crosses between two pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Both pools on one RDMA fabric: each chip's own NIC carries its traffic
    /// device to device (GPUDirect-style).
    Rdma,
    /// Staged through host memory: a device-to-host copy, the host NIC, a host-to-device
    /// copy (Baige's CPU-forwarded bridge for Ascend). The copies run at `copy_gb_s`.
    HostStaged,
    /// FlagCX (BAAI's cross-vendor collective library) over the fabric: device-direct
    /// where both vendors' drivers allow it, with its own software latency.
    FlagCx,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Rdma => "rdma",
            LinkKind::HostStaged => "host-staged",
            LinkKind::FlagCx => "flagcx",
        }
    }

    pub fn parse(s: &str) -> Option<LinkKind> {
        match s {
            "rdma" => Some(LinkKind::Rdma),
            "host-staged" => Some(LinkKind::HostStaged),
            "flagcx" => Some(LinkKind::FlagCx),
            _ => None,
        }
    }

    pub const NAMES: [&'static str; 3] = ["rdma", "host-staged", "flagcx"];

    /// Latency of one transfer when the fleet states none, seconds: assumptions of the
    /// order of published figures (RDMA one-way a few microseconds plus NCCL's proxy;
    /// host staging adds two copies' launch and a CPU hop), docs/planner.md.
    pub fn default_latency_s(self) -> f64 {
        match self {
            LinkKind::Rdma => 10e-6,
            LinkKind::FlagCx => 20e-6,
            LinkKind::HostStaged => 50e-6,
        }
    }
}

/// PCIe Gen4 x16's practical one-direction copy rate, GB/s: the default rate of the
/// host copies of a host-staged link (docs/planner.md).
pub const DEFAULT_COPY_GB_S: f64 = 25.0;

/// The path between two pools. Different vendors share no scale-up link: data moves over
/// the scale-out fabric, device-direct or staged through the hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolLink {
    pub a: String,
    pub b: String,
    /// Bandwidth per chip (each chip's share of its NIC or its host's), GB/s.
    pub gb_s_per_chip: f64,
    pub kind: LinkKind,
    /// Latency of one transfer, seconds.
    pub latency_s: f64,
    /// Host-staged links: the rate of each host copy per chip, GB/s.
    pub copy_gb_s: f64,
}

impl PoolLink {
    /// `KIND:GB_S` (as `tessera simulate --link`): a link between any two types, its
    /// latency and host-copy rate at the kind's defaults; the error names the spec.
    pub fn parse_spec(s: &str) -> Result<PoolLink, String> {
        let bad = |why: String| format!("`{s}`: {why}");
        let (kind, rate) = s
            .split_once(':')
            .ok_or_else(|| bad("expected KIND:GB_S, e.g. host-staged:12.5".into()))?;
        let kind = LinkKind::parse(kind.trim()).ok_or_else(|| {
            bad(format!(
                "unknown kind `{kind}`; known: {}",
                LinkKind::NAMES.join(", ")
            ))
        })?;
        let gb_s: f64 = rate
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && (0.01..=1000.0).contains(v))
            .ok_or_else(|| {
                bad(format!(
                    "GB/s per chip `{rate}` is not a number from 0.01 to 1000"
                ))
            })?;
        Ok(PoolLink::new("", "", gb_s, kind))
    }

    /// A link of `kind` with its default latency and copy rate.
    pub fn new(a: &str, b: &str, gb_s_per_chip: f64, kind: LinkKind) -> PoolLink {
        PoolLink {
            a: a.into(),
            b: b.into(),
            gb_s_per_chip,
            kind,
            latency_s: kind.default_latency_s(),
            copy_gb_s: DEFAULT_COPY_GB_S,
        }
    }

    /// Sustained bytes per second per chip: the NIC share, or for a host-staged link the
    /// slower of it and the host copies (chunked staging pipelines the copy on each side
    /// with the network transfer, so the slowest of the three stages sets the rate).
    pub fn bytes_per_s(&self) -> f64 {
        let nic = self.gb_s_per_chip * 1e9;
        match self.kind {
            LinkKind::HostStaged => nic.min(self.copy_gb_s * 1e9),
            LinkKind::Rdma | LinkKind::FlagCx => nic,
        }
    }

    /// Time to move `bytes` through one chip's share of the link in one transfer.
    pub fn transfer_s(&self, bytes: f64) -> f64 {
        if bytes <= 0.0 {
            0.0
        } else {
            self.latency_s + bytes / self.bytes_per_s()
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub pools: Vec<Pool>,
    pub links: Vec<PoolLink>,
}

impl Fleet {
    pub fn pool(&self, name: &str) -> Option<&Pool> {
        self.pools.iter().find(|p| p.name == name)
    }

    /// The stated link between two pools, if any.
    pub fn link(&self, a: &str, b: &str) -> Option<&PoolLink> {
        find_link(&self.links, a, b)
    }
}

/// The link between `a` and `b` among `links`, in either direction.
pub fn find_link<'l>(links: &'l [PoolLink], a: &str, b: &str) -> Option<&'l PoolLink> {
    links
        .iter()
        .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
}
