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

/// Bandwidth between two pools (different vendors share no fast link: data moves
/// host-staged over RDMA or TCP), GB/s per chip.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolLink {
    pub a: String,
    pub b: String,
    pub gb_s_per_chip: f64,
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

    /// The stated bandwidth between two pools, if any.
    pub fn link(&self, a: &str, b: &str) -> Option<f64> {
        self.links
            .iter()
            .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
            .map(|l| l.gb_s_per_chip)
    }
}
