//! The purchase problem at coefficient level, its MILP, and a brute-force check.
//!
//! Variables: whole servers bought per chip type (`x_t`), which type each training job
//! runs on (binary `y_jt`), and serving replicas per type (`r_kt`). Constraints: each
//! training job on exactly one type with enough chips to meet its deadline; serving
//! capacity summed across types at least the target rate; chips used per type at most
//! owned plus bought; budget; power cap (owned and bought servers both draw power);
//! availability. Objective: least capital cost.

use good_lp::{
    Expression, ResolutionError, Solution as _, SolverModel, Variable, microlp, variable, variables,
};

/// One chip type as the solver sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeCoef {
    pub chip: String,
    pub node_size: u64,
    /// Price of one server's chips (chip price x node size), scenario currency.
    pub price_per_node: f64,
    /// kW per chip, with its server share.
    pub kw_per_chip: f64,
    pub owned: u64,
    /// Servers that may be bought (0 when the chip may not be bought).
    pub max_nodes: u64,
}

/// What one serving option gives on one type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeCoef {
    pub chips_per_replica: u64,
    pub rps_per_replica: f64,
}

/// A training job run across types as one mixed job: the chips it takes of each.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedCoef {
    pub uses: Vec<(usize, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub types: Vec<TypeCoef>,
    /// Per training job, per type: chips needed to meet the deadline (`None`: cannot).
    pub train: Vec<Vec<Option<u64>>>,
    /// Per training job, its mixed options (possibly none). A solution's `train_on[j]`
    /// of `types.len() + k` picks option `k`.
    pub mixed: Vec<Vec<MixedCoef>>,
    /// Per serving job: target rate and, per type, the replica options (several sizes,
    /// so that a small target need not buy a large replica).
    pub serve: Vec<(f64, Vec<Vec<ServeCoef>>)>,
    pub budget: Option<f64>,
    pub power_cap_kw: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    pub nodes: Vec<u64>,
    /// Per training job, the index of the type it runs on, or `types.len() + k` for its
    /// mixed option `k`.
    pub train_on: Vec<usize>,
    /// Per serving job, per type, replicas of each option.
    pub replicas: Vec<Vec<Vec<u64>>>,
    pub cost: f64,
}

impl Problem {
    /// The chips of each type training job `j` takes under choice `c` (`None`: the
    /// choice cannot meet its deadline).
    pub fn train_uses(&self, j: usize, c: usize) -> Option<Vec<(usize, u64)>> {
        let nt = self.types.len();
        if c < nt {
            self.train[j][c].map(|n| vec![(c, n)])
        } else {
            self.mixed
                .get(j)
                .and_then(|m| m.get(c - nt))
                .map(|m| m.uses.clone())
        }
    }

    /// Choices for training job `j`: every type, then its mixed options.
    pub fn train_choices(&self, j: usize) -> usize {
        self.types.len() + self.mixed.get(j).map_or(0, Vec::len)
    }

    pub fn cost(&self, nodes: &[u64]) -> f64 {
        self.types
            .iter()
            .zip(nodes)
            .map(|(t, &n)| t.price_per_node * n as f64)
            .sum()
    }

    /// kW drawn by owned and bought chips together.
    pub fn power_kw(&self, nodes: &[u64]) -> f64 {
        self.types
            .iter()
            .zip(nodes)
            .map(|(t, &n)| t.kw_per_chip * (t.owned + n * t.node_size) as f64)
            .sum()
    }

    /// Replicas of option `o` that could ever be useful for serving job `k` on type `t`.
    fn replica_bound(&self, k: usize, t: usize, o: usize) -> u64 {
        let (rate, opts) = &self.serve[k];
        let c = opts[t][o];
        if c.rps_per_replica > 0.0 {
            (rate / c.rps_per_replica).ceil() as u64
        } else {
            0
        }
    }

    /// Does `s` satisfy every constraint? (Used by tests and to check the solver.)
    pub fn check(&self, s: &Solution) -> Result<(), String> {
        let nt = self.types.len();
        let mut used = vec![0u64; nt];
        for (j, &c) in s.train_on.iter().enumerate() {
            let uses = self
                .train_uses(j, c)
                .ok_or(format!("train[{j}] on a choice that cannot"))?;
            for (t, n) in uses {
                used[t] += n;
            }
        }
        for (k, (rate, opts)) in self.serve.iter().enumerate() {
            let mut cap = 0.0;
            for t in 0..nt {
                for (o, c) in opts[t].iter().enumerate() {
                    let r = s.replicas[k][t][o];
                    cap += r as f64 * c.rps_per_replica;
                    used[t] += r * c.chips_per_replica;
                }
            }
            if cap + 1e-9 < *rate {
                return Err(format!("serve[{k}] capacity {cap} < {rate}"));
            }
        }
        for ((ty, &n), &u) in self.types.iter().zip(&s.nodes).zip(&used) {
            if n > ty.max_nodes {
                return Err(format!("{}: over availability", ty.chip));
            }
            if u > ty.owned + n * ty.node_size {
                return Err(format!("{}: {u} chips used, too few", ty.chip));
            }
        }
        if let Some(b) = self.budget
            && self.cost(&s.nodes) > b * (1.0 + 1e-9)
        {
            return Err("over budget".into());
        }
        if let Some(p) = self.power_cap_kw
            && self.power_kw(&s.nodes) > p * (1.0 + 1e-9)
        {
            return Err("over the power cap".into());
        }
        Ok(())
    }
}

/// The MILP's failure other than infeasibility.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the MILP solver failed: {0}")]
pub struct SolverError(pub String);

/// Least-cost purchase, or `None` when the constraints cannot all hold.
pub fn solve(p: &Problem) -> Result<Option<Solution>, SolverError> {
    let nt = p.types.len();
    // Costs in millions keep the coefficients near 1 for the simplex.
    const SCALE: f64 = 1e-6;
    let mut vars = variables!();
    let x: Vec<Variable> = p
        .types
        .iter()
        .map(|t| vars.add(variable().integer().min(0).max(t.max_nodes as f64)))
        .collect();
    // One binary per training job and choice (each type, then each mixed option).
    let mut y: Vec<Vec<Option<Variable>>> = Vec::new();
    for (j, opts) in p.train.iter().enumerate() {
        let mut row: Vec<Option<Variable>> = opts
            .iter()
            .map(|o| o.map(|_| vars.add(variable().binary())))
            .collect();
        for _ in p.mixed.get(j).into_iter().flatten() {
            row.push(Some(vars.add(variable().binary())));
        }
        y.push(row);
    }
    let mut r: Vec<Vec<Vec<Variable>>> = Vec::new();
    for k in 0..p.serve.len() {
        r.push(
            (0..nt)
                .map(|t| {
                    (0..p.serve[k].1[t].len())
                        .map(|o| {
                            let b = p.replica_bound(k, t, o);
                            vars.add(variable().integer().min(0).max(b as f64))
                        })
                        .collect()
                })
                .collect(),
        );
    }
    let cost: Expression = p
        .types
        .iter()
        .zip(&x)
        .map(|(t, &v)| t.price_per_node * SCALE * v)
        .sum();
    let mut m = vars.minimise(cost.clone()).using(microlp);
    for (j, row) in y.iter().enumerate() {
        let e: Expression = row.iter().flatten().map(|&v| Expression::from(v)).sum();
        if row.iter().all(Option::is_none) {
            return Ok(None);
        }
        m = m.with(e.eq(1.0));
        let _ = j;
    }
    for (k, (rate, opts)) in p.serve.iter().enumerate() {
        let mut e = Expression::from(0.0);
        for t in 0..nt {
            for (v, c) in r[k][t].iter().zip(&opts[t]) {
                e += c.rps_per_replica * *v;
            }
        }
        m = m.with(e.geq(*rate));
    }
    for t in 0..nt {
        let ty = &p.types[t];
        let mut used = Expression::from(0.0);
        for (j, row) in y.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if let (Some(v), Some(uses)) = (v, p.train_uses(j, c)) {
                    for (u, n) in uses {
                        if u == t {
                            used += n as f64 * *v;
                        }
                    }
                }
            }
        }
        for (k, (_, opts)) in p.serve.iter().enumerate() {
            for (v, c) in r[k][t].iter().zip(&opts[t]) {
                used += c.chips_per_replica as f64 * *v;
            }
        }
        m = m.with(used.leq(ty.owned as f64 + ty.node_size as f64 * x[t]));
    }
    if let Some(b) = p.budget {
        m = m.with(cost.leq(b * SCALE));
    }
    if let Some(cap) = p.power_cap_kw {
        let owned: f64 = p.types.iter().map(|t| t.kw_per_chip * t.owned as f64).sum();
        let bought: Expression = p
            .types
            .iter()
            .zip(&x)
            .map(|(t, &v)| t.kw_per_chip * t.node_size as f64 * v)
            .sum();
        m = m.with(bought.leq(cap - owned));
    }
    let sol = match m.solve() {
        Ok(s) => s,
        Err(ResolutionError::Infeasible) => return Ok(None),
        Err(e) => return Err(SolverError(e.to_string())),
    };
    let round = |v: Variable| sol.value(v).round().max(0.0) as u64;
    let nodes: Vec<u64> = x.iter().map(|&v| round(v)).collect();
    let train_on = y
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .filter_map(|(t, v)| v.map(|v| (t, sol.value(v))))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(t, _)| t)
        })
        .collect();
    let replicas = r
        .iter()
        .map(|row| {
            row.iter()
                .map(|opts| opts.iter().map(|&v| round(v)).collect())
                .collect()
        })
        .collect();
    let s = Solution {
        cost: p.cost(&nodes),
        nodes,
        train_on,
        replicas,
    };
    // The solver works in floating point; never report a plan that breaks a constraint.
    p.check(&s)
        .map_err(|why| SolverError(format!("rounded solution breaks a constraint: {why}")))?;
    Ok(Some(s))
}

/// Exhaustive search over every purchase, training choice and replica count. Exponential:
/// for tests on small problems only.
pub fn brute_force(p: &Problem) -> Option<Solution> {
    let nt = p.types.len();
    let mut best: Option<Solution> = None;
    let mut nodes = vec![0u64; nt];
    loop {
        let cost = p.cost(&nodes);
        if best.as_ref().is_none_or(|b| cost < b.cost - 1e-9)
            && let Some(s) = feasible_with(p, &nodes)
        {
            best = Some(s);
        }
        // Next purchase vector.
        let mut i = 0;
        loop {
            if i == nt {
                return best;
            }
            if nodes[i] < p.types[i].max_nodes {
                nodes[i] += 1;
                break;
            }
            nodes[i] = 0;
            i += 1;
        }
    }
}

/// Some assignment of jobs to the chips `nodes` gives, if any (exhaustive).
fn feasible_with(p: &Problem, nodes: &[u64]) -> Option<Solution> {
    let base = Solution {
        nodes: nodes.to_vec(),
        train_on: vec![0; p.train.len()],
        replicas: p
            .serve
            .iter()
            .map(|(_, opts)| opts.iter().map(|o| vec![0; o.len()]).collect())
            .collect(),
        cost: p.cost(nodes),
    };
    // Every training assignment.
    let mut assign = vec![0usize; p.train.len()];
    loop {
        if assign
            .iter()
            .enumerate()
            .all(|(j, &c)| p.train_uses(j, c).is_some())
        {
            let mut s = base.clone();
            s.train_on = assign.clone();
            if serve_search(p, &mut s, 0, 0, 0) {
                return Some(s);
            }
        }
        let mut i = 0;
        loop {
            if i == assign.len() {
                return None;
            }
            if assign[i] + 1 < p.train_choices(i) {
                assign[i] += 1;
                break;
            }
            assign[i] = 0;
            i += 1;
        }
    }
}

/// Every replica count of every option, job by job, type by type.
/// Every replica count of every option, job by job, type by type, set in place on `s`
/// (backtracking); true when `s` ends feasible.
fn serve_search(p: &Problem, s: &mut Solution, k: usize, t: usize, o: usize) -> bool {
    let nt = p.types.len();
    if k == p.serve.len() {
        return p.check(s).is_ok();
    }
    if t == nt {
        return serve_search(p, s, k + 1, 0, 0);
    }
    if o == p.serve[k].1[t].len() {
        return serve_search(p, s, k, t + 1, 0);
    }
    for r in 0..=p.replica_bound(k, t, o) {
        s.replicas[k][t][o] = r;
        if serve_search(p, s, k, t, o + 1) {
            return true;
        }
    }
    s.replicas[k][t][o] = 0;
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(chip: &str, node: u64, price: f64, kw: f64, owned: u64, max: u64) -> TypeCoef {
        TypeCoef {
            chip: chip.into(),
            node_size: node,
            price_per_node: price,
            kw_per_chip: kw,
            owned,
            max_nodes: max,
        }
    }

    /// A tiny deterministic generator (no dependency needed for this).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    fn random_problem(g: &mut Lcg) -> Problem {
        let nt = 2 + g.next(2) as usize;
        let types: Vec<TypeCoef> = (0..nt)
            .map(|i| {
                ty(
                    &format!("c{i}"),
                    1 + g.next(4),
                    10.0 + g.next(90) as f64,
                    0.5 + g.next(3) as f64 * 0.5,
                    g.next(3) * 2,
                    g.next(5),
                )
            })
            .collect();
        let train: Vec<Vec<Option<u64>>> = (0..g.next(2) + 1)
            .map(|_| {
                (0..nt)
                    .map(|_| (g.next(4) > 0).then(|| 1 + g.next(9)))
                    .collect()
            })
            .collect();
        // Some jobs may also run across the first two types.
        let mixed = train
            .iter()
            .map(|_| {
                (0..g.next(3))
                    .map(|_| MixedCoef {
                        uses: vec![(0, 1 + g.next(6)), (1, 1 + g.next(6))],
                    })
                    .collect()
            })
            .collect();
        let serve = (0..g.next(2))
            .map(|_| {
                let rate = 1.0 + g.next(20) as f64;
                let opts = (0..nt)
                    .map(|_| {
                        (0..g.next(3))
                            .map(|_| ServeCoef {
                                chips_per_replica: 1 + g.next(3),
                                rps_per_replica: 1.0 + g.next(8) as f64,
                            })
                            .collect()
                    })
                    .collect();
                (rate, opts)
            })
            .collect();
        Problem {
            types,
            train,
            mixed,
            serve,
            budget: (g.next(2) == 0).then(|| 50.0 + g.next(300) as f64),
            power_cap_kw: (g.next(2) == 0).then(|| 5.0 + g.next(30) as f64),
        }
    }

    #[test]
    fn milp_matches_brute_force_on_small_problems() {
        let mut g = Lcg(0x5eed);
        let (mut feasible, mut infeasible) = (0, 0);
        for case in 0..300 {
            let p = random_problem(&mut g);
            let milp = solve(&p).expect("solver");
            let brute = brute_force(&p);
            match (&milp, &brute) {
                (Some(m), Some(b)) => {
                    assert!(
                        (m.cost - b.cost).abs() < 1e-6,
                        "case {case}: milp {} brute {}\n{p:?}",
                        m.cost,
                        b.cost
                    );
                    p.check(m).expect("milp solution must be feasible");
                    feasible += 1;
                }
                (None, None) => infeasible += 1,
                _ => panic!("case {case}: milp {milp:?} brute {brute:?}\n{p:?}"),
            }
        }
        // The generator must exercise both outcomes, or the test proves little.
        assert!(
            feasible > 50 && infeasible > 20,
            "{feasible} / {infeasible}"
        );
    }

    #[test]
    fn owned_chips_cost_nothing() {
        let p = Problem {
            types: vec![ty("a", 8, 100.0, 1.0, 16, 10)],
            train: vec![vec![Some(16)]],
            mixed: vec![vec![]],
            serve: vec![],
            budget: None,
            power_cap_kw: None,
        };
        let s = solve(&p).unwrap().unwrap();
        assert_eq!(s.nodes, vec![0]);
        assert_eq!(s.cost, 0.0);
    }

    #[test]
    fn cheaper_per_chip_is_not_always_cheaper() {
        // Type b is cheaper per node but needs three times the chips.
        let p = Problem {
            types: vec![ty("a", 8, 100.0, 1.0, 0, 10), ty("b", 8, 60.0, 1.0, 0, 10)],
            train: vec![vec![Some(16), Some(48)]],
            mixed: vec![vec![]],
            serve: vec![],
            budget: None,
            power_cap_kw: None,
        };
        let s = solve(&p).unwrap().unwrap();
        assert_eq!((s.nodes.clone(), s.train_on.clone()), (vec![2, 0], vec![0]));
        // Capping power below what 16 chips draw makes it infeasible.
        let q = Problem {
            power_cap_kw: Some(15.0),
            ..p
        };
        assert_eq!(solve(&q).unwrap(), None);
    }

    #[test]
    fn a_mixed_job_over_owned_chips_can_be_cheapest() {
        // 16 owned a; the job needs 32 b alone, or the 16 a beside 8 b as one mixed job.
        let p = Problem {
            types: vec![ty("a", 8, 100.0, 1.0, 16, 0), ty("b", 8, 60.0, 1.0, 0, 10)],
            train: vec![vec![None, Some(32)]],
            mixed: vec![vec![MixedCoef {
                uses: vec![(0, 16), (1, 8)],
            }]],
            serve: vec![],
            budget: None,
            power_cap_kw: None,
        };
        let s = solve(&p).unwrap().unwrap();
        assert_eq!((s.nodes.clone(), s.train_on.clone()), (vec![0, 1], vec![2]));
        assert_eq!(p.train_uses(0, 2), Some(vec![(0, 16), (1, 8)]));
        assert_eq!(brute_force(&p).unwrap().cost, s.cost);
        // With the owned chips already taken by a second job, the mixed option cannot
        // fit beside it and the first job buys b alone.
        let q = Problem {
            train: vec![vec![None, Some(32)], vec![Some(16), None]],
            mixed: vec![p.mixed[0].clone(), vec![]],
            ..p
        };
        let s = solve(&q).unwrap().unwrap();
        assert_eq!(
            (s.nodes.clone(), s.train_on.clone()),
            (vec![0, 4], vec![1, 0])
        );
    }

    #[test]
    fn serving_splits_across_types() {
        // 10 rps; a replica of a gives 6 rps, of b 5 rps; only one server of each.
        let p = Problem {
            types: vec![ty("a", 1, 10.0, 1.0, 0, 1), ty("b", 1, 12.0, 1.0, 0, 1)],
            train: vec![],
            mixed: vec![],
            serve: vec![(
                10.0,
                vec![
                    vec![ServeCoef {
                        chips_per_replica: 1,
                        rps_per_replica: 6.0,
                    }],
                    vec![ServeCoef {
                        chips_per_replica: 1,
                        rps_per_replica: 5.0,
                    }],
                ],
            )],
            budget: None,
            power_cap_kw: None,
        };
        let s = solve(&p).unwrap().unwrap();
        assert_eq!(s.nodes, vec![1, 1]);
        assert_eq!(s.replicas, vec![vec![vec![1], vec![1]]]);
    }
}
