//! Scheduling policies as allocations: for each job, the fraction of time it should
//! spend on each accelerator type. Pure functions over a snapshot of the jobs and the
//! cluster, with no IO and no clock, so that a trace-driven simulator and a live
//! scheduler can share them (issue 5; the round-based mechanism and the simulator build
//! on this crate).
//!
//! The heterogeneity-aware forms follow the effective-throughput formulation of Gavel
//! (Narayanan et al., OSDI 2020): a job given time fractions `x[j][t]` on types `t`
//! progresses at `sum_t T[j][t] x[j][t]` steps/s, where `T` is its measured throughput
//! per type. Constraints: `x >= 0`; each job's fractions sum to at most 1; each type's
//! fractions, weighted by the job's worker count (scale factor), sum to at most the type's
//! count. The heterogeneity-agnostic forms solve the same programs with every usable
//! throughput replaced by 1, so that all types look alike.

pub mod pyrandom;
pub mod replay;
pub mod round;
pub mod sim;
pub mod workload;

use good_lp::solvers::clarabel::{ClarabelProblem, ClarabelSolution};
use good_lp::solvers::microlp::{MicroLpProblem, MicroLpSolution};
use good_lp::variable::UnsolvedProblem;
use good_lp::{
    Constraint, Expression, ResolutionError, SolverModel, Variable, clarabel, microlp, variable,
    variables,
};

/// Which LP method solves the policies' programs. Programs with many optimal
/// allocations (max-min fairness, feasibility in the deadline searches) get a vertex of
/// the optimal set from the simplex method and a central point from an interior-point
/// method, as Gavel's ECOS returns: the schedules differ though the objective does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Solver {
    /// microlp's dual simplex (the default).
    #[default]
    Simplex,
    /// Clarabel's interior-point method (pure Rust).
    Interior,
}

impl Solver {
    pub const NAMES: [&'static str; 2] = ["simplex", "interior"];

    pub fn parse(s: &str) -> Option<Solver> {
        match s {
            "simplex" => Some(Solver::Simplex),
            "interior" => Some(Solver::Interior),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Solver::Simplex => "simplex",
            Solver::Interior => "interior",
        }
    }
}

/// A model of either solver.
// One model lives per LP solve, moved a few times: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Model {
    Simplex(MicroLpProblem),
    Interior(ClarabelProblem),
}

/// A solution of either solver.
enum Sol {
    Simplex(MicroLpSolution),
    Interior(ClarabelSolution),
}

impl good_lp::Solution for Sol {
    fn status(&self) -> good_lp::SolutionStatus {
        match self {
            Sol::Simplex(s) => s.status(),
            Sol::Interior(s) => s.status(),
        }
    }

    fn value(&self, v: Variable) -> f64 {
        match self {
            Sol::Simplex(s) => s.value(v),
            // Interior points stop within tolerance of the bounds: snap what is
            // numerically zero, so that "no time on this type" stays exactly 0.
            Sol::Interior(s) => {
                let x = s.value(v);
                if x.abs() < 1e-7 { 0.0 } else { x }
            }
        }
    }
}

impl SolverModel for Model {
    type Solution = Sol;
    type Error = ResolutionError;

    fn solve(self) -> Result<Sol, ResolutionError> {
        match self {
            Model::Simplex(m) => m.solve().map(Sol::Simplex),
            Model::Interior(m) => m.solve().map(Sol::Interior),
        }
    }

    fn add_constraint(&mut self, c: Constraint) -> good_lp::constraint::ConstraintReference {
        match self {
            Model::Simplex(m) => m.add_constraint(c),
            Model::Interior(m) => m.add_constraint(c),
        }
    }

    fn name() -> &'static str {
        "tessera (microlp or clarabel)"
    }
}

/// The model builder of a solver, for `UnsolvedProblem::using`.
fn lp(solver: Solver) -> impl FnMut(UnsolvedProblem) -> Model {
    move |p| match solver {
        Solver::Simplex => Model::Simplex(microlp(p)),
        Solver::Interior => Model::Interior(clarabel(p)),
    }
}

/// One job as the policies see it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    /// Steps/s on each accelerator type, in the cluster's type order; 0 where it cannot run.
    pub throughput: Vec<f64>,
    /// Workers the job needs at once, all of one type.
    pub scale_factor: u32,
    /// Priority weight (higher gets more).
    pub weight: f64,
    /// Gangs across types the job may also run as (its mixed-vendor plans). Only the
    /// heterogeneity-aware max-min fairness and maximum-throughput policies use them;
    /// the others plan each job on one type.
    pub mixed: Vec<MixedUse>,
}

/// One way to run a job across several types at once (a gang across types): the
/// workers it takes of each type and the steps/s it makes on them together (from the
/// mixed-vendor planner).
#[derive(Debug, Clone, PartialEq)]
pub struct MixedUse {
    /// (type, workers), each type once.
    pub uses: Vec<(usize, u32)>,
    pub throughput: f64,
    /// Per part of `uses` (or none): its steps/s when that part's workers are split over
    /// nodes whose fewest share is the piece size (the other parts whole), as
    /// [`crate::sim::SimJob::throughput_pieces`] gives them for the job's own size,
    /// ascending by piece. With several parts split, the slowest of their rates (a
    /// gang runs at its slowest part's pace). Empty: `throughput` on any nodes.
    pub pieces: Vec<Vec<(u32, f64)>>,
}

impl MixedUse {
    /// Workers it takes over all its types.
    pub fn workers(&self) -> u32 {
        self.uses.iter().map(|(_, w)| *w).sum()
    }

    /// Workers of type `t` it takes (0 where it uses none).
    pub fn workers_on(&self, t: usize) -> u32 {
        self.uses
            .iter()
            .filter(|(u, _)| *u == t)
            .map(|(_, w)| *w)
            .sum()
    }

    /// Whether every part fits the type's count.
    pub fn fits(&self, capacity: &[u32]) -> bool {
        self.uses
            .iter()
            .all(|&(t, w)| capacity.get(t).is_some_and(|&c| w <= c))
    }
}

/// Time fractions per job and column (`x[job][column]`): the cluster's types first, then,
/// for a job with gangs across types ([`JobRow::mixed`]), one column per gang in its
/// order. Policies that do not use gangs across types give rows of the types only.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub x: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    #[error("job {job} has {got} throughputs for {types} accelerator types")]
    Shape {
        job: usize,
        got: usize,
        types: usize,
    },
    #[error("job {job}: {what}")]
    BadJob { job: usize, what: String },
    #[error("the LP solver failed: {0}")]
    Solver(String),
}

/// Whether a policy uses the measured throughputs or treats the types as alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awareness {
    Agnostic,
    Aware,
}

fn check(jobs: &[JobRow], capacity: &[u32]) -> Result<(), PolicyError> {
    for (i, j) in jobs.iter().enumerate() {
        if j.throughput.len() != capacity.len() {
            return Err(PolicyError::Shape {
                job: i,
                got: j.throughput.len(),
                types: capacity.len(),
            });
        }
        if j.scale_factor == 0 {
            return Err(PolicyError::BadJob {
                job: i,
                what: "scale factor 0".into(),
            });
        }
        if !(j.weight > 0.0 && j.weight.is_finite()) {
            return Err(PolicyError::BadJob {
                job: i,
                what: format!("priority weight {} (must be positive)", j.weight),
            });
        }
        if j.throughput.iter().any(|t| !t.is_finite() || *t < 0.0) {
            return Err(PolicyError::BadJob {
                job: i,
                what: "a throughput is negative or not finite".into(),
            });
        }
        for m in &j.mixed {
            if !(m.throughput.is_finite() && m.throughput >= 0.0) {
                return Err(PolicyError::BadJob {
                    job: i,
                    what: "a gang across types has a negative or infinite throughput".into(),
                });
            }
            let mut seen = vec![false; capacity.len()];
            for &(t, w) in &m.uses {
                if t >= capacity.len() || w == 0 || seen[t] {
                    return Err(PolicyError::BadJob {
                        job: i,
                        what: format!(
                            "a gang across types uses type {t} with {w} workers (types 0..{}, \
                             each once, at least 1 worker)",
                            capacity.len()
                        ),
                    });
                }
                seen[t] = true;
            }
        }
    }
    Ok(())
}

/// The throughputs a policy optimises: measured, or 1 wherever the job can run (and fits).
fn effective_matrix(jobs: &[JobRow], capacity: &[u32], a: Awareness) -> Vec<Vec<f64>> {
    jobs.iter()
        .map(|j| {
            j.throughput
                .iter()
                .zip(capacity)
                .map(|(&t, &c)| {
                    if t <= 0.0 || j.scale_factor > c {
                        0.0
                    } else if a == Awareness::Agnostic {
                        1.0
                    } else {
                        t
                    }
                })
                .collect()
        })
        .collect()
}

/// [`effective_matrix`] with, heterogeneity-aware, each job's gangs across types as
/// further columns (their throughput where every part fits, else 0). Agnostic policies
/// see every type as alike, so a gang across types means nothing to them: none.
fn effective_matrix_mixed(jobs: &[JobRow], capacity: &[u32], a: Awareness) -> Vec<Vec<f64>> {
    let mut t = effective_matrix(jobs, capacity, a);
    if a == Awareness::Aware {
        for (row, j) in t.iter_mut().zip(jobs) {
            row.extend(
                j.mixed
                    .iter()
                    .map(|m| if m.fits(capacity) { m.throughput } else { 0.0 }),
            );
        }
    }
    t
}

/// Steps/s a job makes under its allocation row (types, then gangs across types).
pub fn effective_throughput(job: &JobRow, x: &[f64]) -> f64 {
    let nt = job.throughput.len();
    job.throughput
        .iter()
        .zip(x)
        .map(|(t, x)| t * x)
        .sum::<f64>()
        + job
            .mixed
            .iter()
            .zip(x.iter().skip(nt))
            .map(|(m, x)| m.throughput * x)
            .sum::<f64>()
}

/// Jobs with identical rows (throughputs, scale factor, weight) form a class. The LPs
/// are symmetric in the jobs of a class, so averaging any optimum over a class keeps it
/// feasible and optimal: solving over classes (with their sizes) loses nothing and keeps
/// the LP small however many jobs are active. Returns each job's class, one
/// representative per class and the class sizes.
fn classes(jobs: &[JobRow]) -> (Vec<usize>, Vec<JobRow>, Vec<u32>) {
    let key = |j: &JobRow| {
        let mut k: Vec<u64> = j.throughput.iter().map(|t| t.to_bits()).collect();
        k.push(j.scale_factor as u64);
        k.push(j.weight.to_bits());
        for m in &j.mixed {
            k.push(u64::MAX);
            k.push(m.throughput.to_bits());
            k.extend(m.uses.iter().map(|&(t, w)| ((t as u64) << 32) | w as u64));
        }
        k
    };
    let mut index: std::collections::HashMap<Vec<u64>, usize> = std::collections::HashMap::new();
    let (mut of, mut reps, mut count) = (Vec::with_capacity(jobs.len()), Vec::new(), Vec::new());
    for j in jobs {
        let c = *index.entry(key(j)).or_insert_with(|| {
            reps.push(j.clone());
            count.push(0u32);
            reps.len() - 1
        });
        count[c] += 1;
        of.push(c);
    }
    (of, reps, count)
}

fn expand(of: &[usize], al: Allocation) -> Allocation {
    Allocation {
        x: of.iter().map(|&c| al.x[c].clone()).collect(),
    }
}

/// Each job's throughput under an equal split of every type over the jobs, scaled so
/// that no job's fractions exceed 1 (Gavel's normaliser for fairness).
pub fn proportional_throughput(throughput: &[Vec<f64>], capacity: &[u32]) -> Vec<f64> {
    proportional_over(throughput, capacity, throughput.len())
}

/// [`proportional_throughput`] with the cluster split over `jobs` jobs.
fn proportional_over(throughput: &[Vec<f64>], capacity: &[u32], jobs: usize) -> Vec<f64> {
    let m = jobs.max(1) as f64;
    let share: Vec<f64> = capacity.iter().map(|&c| c as f64 / m).collect();
    let row_sum: f64 = share.iter().sum();
    let scale = if row_sum > 1.0 { 1.0 / row_sum } else { 1.0 };
    throughput
        .iter()
        .map(|row| row.iter().zip(&share).map(|(t, s)| t * s * scale).sum())
        .collect()
}

/// [`proportional_over`] where a job may also run as a gang across types: the larger of
/// its throughput on an equal share of every type and, for each of its gangs, the gang's
/// throughput for the time the equal shares of its types keep all its parts busy, in
/// the same units (times the scale factor, as the max-min objective counts). `t` is
/// [`effective_matrix_mixed`] of `jobs`.
fn proportional_mixed(jobs: &[JobRow], t: &[Vec<f64>], capacity: &[u32], n: usize) -> Vec<f64> {
    let nt = capacity.len();
    let mut prop = proportional_over(t, capacity, n);
    let m = n.max(1) as f64;
    let share: Vec<f64> = capacity.iter().map(|&c| c as f64 / m).collect();
    let row_sum: f64 = share.iter().sum();
    let scale = if row_sum > 1.0 { 1.0 / row_sum } else { 1.0 };
    for ((p, j), row) in prop.iter_mut().zip(jobs).zip(t) {
        for (g, &v) in j.mixed.iter().zip(row.iter().skip(nt)) {
            if v <= 0.0 {
                continue;
            }
            let time = g
                .uses
                .iter()
                .map(|&(ty, w)| share[ty] * scale / w as f64)
                .fold(f64::INFINITY, f64::min)
                .min(1.0);
            *p = p.max(v * time * j.scale_factor as f64);
        }
    }
    prop
}

/// Time-fraction variables `x[job][type]`, present only where the job can run.
type XVars = Vec<Vec<Option<Variable>>>;

fn x_vars(t: &[Vec<f64>]) -> (good_lp::ProblemVariables, XVars) {
    let mut vars = variables!();
    let x = t
        .iter()
        .map(|row| {
            row.iter()
                .map(|&v| (v > 0.0).then(|| vars.add(variable().min(0.0).max(1.0))))
                .collect()
        })
        .collect();
    (vars, x)
}

/// `sum_t coef[t] x[j][t]`.
fn row_expr(x: &XVars, j: usize, coef: &[f64]) -> Expression {
    let mut e = Expression::from(0.0);
    for (v, &c) in x[j].iter().zip(coef) {
        if let Some(v) = v {
            e += c * *v;
        }
    }
    e
}

/// The base constraints: each job's fractions sum to at most 1; each type's fractions,
/// weighted by scale factor, to at most its count. A gang across types (a column past
/// the types) counts its workers of each type it uses.
fn base_constraints<M: SolverModel>(
    mut m: M,
    x: &XVars,
    jobs: &[JobRow],
    count: &[u32],
    capacity: &[u32],
) -> M {
    let nt = capacity.len();
    for row in x {
        let e: Expression = row.iter().flatten().map(|&v| Expression::from(v)).sum();
        m = m.with(e.leq(1.0));
    }
    for (t, &cap) in capacity.iter().enumerate() {
        let mut e = Expression::from(0.0);
        for (j, row) in x.iter().enumerate() {
            if let Some(v) = row[t] {
                e += (jobs[j].scale_factor * count[j]) as f64 * v;
            }
            for (k, v) in row.iter().enumerate().skip(nt) {
                if let Some(v) = v {
                    let w = jobs[j].mixed[k - nt].workers_on(t);
                    if w > 0 {
                        e += (w * count[j]) as f64 * *v;
                    }
                }
            }
        }
        m = m.with(e.leq(cap as f64));
    }
    m
}

fn extract(x: &XVars, s: &impl good_lp::Solution) -> Allocation {
    Allocation {
        x: x.iter()
            .map(|row| {
                row.iter()
                    .map(|v| v.map_or(0.0, |v| s.value(v).clamp(0.0, 1.0)))
                    .collect()
            })
            .collect(),
    }
}

fn solver_err(e: ResolutionError) -> PolicyError {
    PolicyError::Solver(e.to_string())
}

/// Max-min fairness (Gavel's `max_min_fairness` and `max_min_fairness_perf`): maximise the
/// smallest weighted, normalised throughput `sum_t T[j][t] x[j][t] sf_j / (w_j P_j)`, where
/// `P_j` is the job's throughput under an equal split of the cluster.
pub fn max_min_fairness(
    jobs: &[JobRow],
    capacity: &[u32],
    a: Awareness,
    solver: Solver,
) -> Result<Allocation, PolicyError> {
    check(jobs, capacity)?;
    let (of, reps, count) = classes(jobs);
    let t = effective_matrix_mixed(&reps, capacity, a);
    let runnable: Vec<usize> = (0..reps.len())
        .filter(|&j| t[j].iter().any(|&v| v > 0.0))
        .collect();
    let (mut vars, x) = x_vars(&t);
    if runnable.is_empty() {
        return Ok(expand(&of, extract(&x, &NoSolution)));
    }
    let prop = proportional_mixed(&reps, &t, capacity, jobs.len());
    let z = vars.add(variable().min(0.0));
    let mut m = vars.maximise(z).using(lp(solver));
    for &j in &runnable {
        let k = reps[j].scale_factor as f64 / (reps[j].weight * prop[j].max(1e-12));
        let coef: Vec<f64> = t[j].iter().map(|v| v * k).collect();
        m = m.with(row_expr(&x, j, &coef).geq(z));
    }
    m = base_constraints(m, &x, &reps, &count, capacity);
    let s = m.solve().map_err(solver_err)?;
    let mut al = extract(&x, &s);
    if a == Awareness::Agnostic {
        spread_like_capacity(&mut al, &t, capacity);
    }
    Ok(expand(&of, al))
}

/// A candidate co-location (space sharing): jobs `a` and `b` (indices into the job rows,
/// of the same scale factor) running together on the same workers, with each one's
/// steps/s per type while they do; `(0, 0)` where the pair was not measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PairRow {
    pub a: usize,
    pub b: usize,
    pub throughput: Vec<(f64, f64)>,
}

/// Time fractions for jobs alone (`single`) and for each candidate pair (`pairs[k][t]`,
/// aligned with the pairs given).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedAllocation {
    pub single: Allocation,
    pub pairs: Vec<Vec<f64>>,
}

/// Max-min fairness with space sharing (Gavel's `max_min_fairness_packed`): as
/// [`max_min_fairness`] (heterogeneity-aware), but a job may also spend time co-located
/// with a partner on the same workers, at the pair's measured throughputs. A job's
/// time alone and in pairs sums to at most 1; a pair uses its scale factor's workers
/// once for both jobs. Pairs whose scale factors differ, or that no type measured, are
/// ignored.
pub fn max_min_fairness_packed(
    jobs: &[JobRow],
    pairs: &[PairRow],
    capacity: &[u32],
    solver: Solver,
) -> Result<PackedAllocation, PolicyError> {
    check(jobs, capacity)?;
    let nt = capacity.len();
    let t = effective_matrix(jobs, capacity, Awareness::Aware);
    let (mut vars, x) = x_vars(&t);
    // y[k][t]: pair k on type t, where both jobs progress there and the gang fits.
    let y: Vec<Vec<Option<Variable>>> = pairs
        .iter()
        .map(|p| {
            let ok_pair = p.a != p.b
                && p.a < jobs.len()
                && p.b < jobs.len()
                && jobs[p.a].scale_factor == jobs[p.b].scale_factor
                && p.throughput.len() == nt;
            (0..nt)
                .map(|ty| {
                    let fits = ok_pair && jobs[p.a].scale_factor <= capacity[ty];
                    let (ra, rb) = p.throughput.get(ty).copied().unwrap_or((0.0, 0.0));
                    (fits && ra > 0.0 && rb > 0.0 && ra.is_finite() && rb.is_finite())
                        .then(|| vars.add(variable().min(0.0).max(1.0)))
                })
                .collect()
        })
        .collect();
    let runnable: Vec<usize> = (0..jobs.len())
        .filter(|&j| t[j].iter().any(|&v| v > 0.0))
        .collect();
    if runnable.is_empty() {
        return Ok(PackedAllocation {
            single: extract(&x, &NoSolution),
            pairs: vec![vec![0.0; nt]; pairs.len()],
        });
    }
    let prop = proportional_over(&t, capacity, jobs.len());
    let z = vars.add(variable().min(0.0));
    let mut m = vars.maximise(z).using(lp(solver));
    // Each job's progress (alone and in pairs) and its time.
    let mut progress: Vec<Expression> = (0..jobs.len()).map(|j| row_expr(&x, j, &t[j])).collect();
    let mut time: Vec<Expression> = x
        .iter()
        .map(|row| row.iter().flatten().map(|&v| Expression::from(v)).sum())
        .collect();
    let mut per_type: Vec<Expression> = (0..nt)
        .map(|ty| {
            let mut e = Expression::from(0.0);
            for (j, row) in x.iter().enumerate() {
                if let Some(v) = row[ty] {
                    e += jobs[j].scale_factor as f64 * v;
                }
            }
            e
        })
        .collect();
    for (p, row) in pairs.iter().zip(&y) {
        for (ty, v) in row.iter().enumerate() {
            let Some(v) = *v else { continue };
            let (ra, rb) = p.throughput[ty];
            progress[p.a] += ra * v;
            progress[p.b] += rb * v;
            time[p.a] += v;
            time[p.b] += v;
            per_type[ty] += jobs[p.a].scale_factor as f64 * v;
        }
    }
    for &j in &runnable {
        let k = jobs[j].scale_factor as f64 / (jobs[j].weight * prop[j].max(1e-12));
        m = m.with((progress[j].clone() * k).geq(z));
    }
    for e in time {
        m = m.with(e.leq(1.0));
    }
    for (ty, e) in per_type.into_iter().enumerate() {
        m = m.with(e.leq(capacity[ty] as f64));
    }
    let s = m.solve().map_err(solver_err)?;
    use good_lp::Solution as _;
    Ok(PackedAllocation {
        single: extract(&x, &s),
        pairs: y
            .iter()
            .map(|row| {
                row.iter()
                    .map(|v| v.map_or(0.0, |v| s.value(v).clamp(0.0, 1.0)))
                    .collect()
            })
            .collect(),
    })
}

/// An agnostic policy has no reason to prefer one type over another, but a simplex
/// solver returns a vertex that concentrates each job on some types. When every job can
/// use every type the cluster has, spread each job's total share over the types in
/// proportion to their counts: the capacity constraints still hold exactly (each type
/// gets its share of the same total), and the allocation is the symmetric one (the one
/// an interior-point solver such as Gavel's ECOS tends to return).
fn spread_like_capacity(al: &mut Allocation, usable: &[Vec<f64>], capacity: &[u32]) {
    let present = |t: usize| capacity[t] > 0;
    if usable
        .iter()
        .any(|row| row.iter().enumerate().any(|(t, &v)| present(t) && v <= 0.0))
    {
        return;
    }
    let total: f64 = capacity.iter().map(|&c| c as f64).sum();
    if total <= 0.0 {
        return;
    }
    for row in &mut al.x {
        let share: f64 = row.iter().sum();
        for (v, &c) in row.iter_mut().zip(capacity) {
            *v = share * c as f64 / total;
        }
    }
}

/// Maximum total throughput: maximise the sum over jobs of `sum_t T[j][t] x[j][t]`.
/// With `normalise` false this is Gavel's `max_sum_throughput_perf`, a sum of raw
/// steps/s, which favours jobs that take many small steps; with `normalise` true each
/// job's term is divided by its throughput on its fastest type, so that every job's
/// progress counts alike. Agnostic: every usable type counts 1.
pub fn max_sum_throughput(
    jobs: &[JobRow],
    capacity: &[u32],
    a: Awareness,
    normalise: bool,
    solver: Solver,
) -> Result<Allocation, PolicyError> {
    check(jobs, capacity)?;
    let (of, reps, count) = classes(jobs);
    let t = effective_matrix_mixed(&reps, capacity, a);
    let (vars, x) = x_vars(&t);
    let mut obj = Expression::from(0.0);
    for (j, row) in t.iter().enumerate() {
        let fastest = row.iter().copied().fold(0.0, f64::max);
        let best = if normalise { fastest } else { 1.0 };
        if fastest > 0.0 {
            let coef: Vec<f64> = row.iter().map(|v| v * count[j] as f64 / best).collect();
            obj += row_expr(&x, j, &coef);
        }
    }
    let m = base_constraints(
        vars.maximise(obj).using(lp(solver)),
        &x,
        &reps,
        &count,
        capacity,
    );
    let s = m.solve().map_err(solver_err)?;
    Ok(expand(&of, extract(&x, &s)))
}

/// Minimum cost (Gavel's `max_sum_throughput_normalized_by_cost`): maximise the sum over
/// jobs of steps per dollar, `sum_t T[j][t] x[j][t] / price_t`, `price_t` the price of
/// one worker-hour of type `t` (raw steps/s, as Gavel sums them). Agnostic: every usable
/// type counts 1 before dividing by price, so the cheapest types are preferred.
pub fn min_cost(
    jobs: &[JobRow],
    capacity: &[u32],
    price: &[f64],
    a: Awareness,
    solver: Solver,
) -> Result<Allocation, PolicyError> {
    check(jobs, capacity)?;
    if price.len() != capacity.len() || price.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
        return Err(PolicyError::BadJob {
            job: 0,
            what: "min-cost needs a positive price for every type".into(),
        });
    }
    let (of, reps, count) = classes(jobs);
    let t = effective_matrix(&reps, capacity, a);
    let (vars, x) = x_vars(&t);
    let mut obj = Expression::from(0.0);
    for (j, row) in t.iter().enumerate() {
        if row.iter().any(|&v| v > 0.0) {
            let coef: Vec<f64> = row
                .iter()
                .zip(price)
                .map(|(v, p)| v * count[j] as f64 / p)
                .collect();
            obj += row_expr(&x, j, &coef);
        }
    }
    let m = base_constraints(
        vars.maximise(obj).using(lp(solver)),
        &x,
        &reps,
        &count,
        capacity,
    );
    let s = m.solve().map_err(solver_err)?;
    Ok(expand(&of, extract(&x, &s)))
}

/// The throughputs a deadline policy plans with: measured (aware), or, agnostic, the
/// job's speed on the reference type (the first type of the cluster it can run on) for
/// every type it can run on: it knows how long a job is, not where it runs faster.
/// Gavel's agnostic `min_total_duration` and `finish_time_fairness` do the same with
/// the V100, the type it lists first and profiles every job on.
fn planning_matrix(jobs: &[JobRow], capacity: &[u32], a: Awareness) -> Vec<Vec<f64>> {
    let usable = effective_matrix(jobs, capacity, Awareness::Aware);
    match a {
        Awareness::Aware => usable,
        Awareness::Agnostic => usable
            .iter()
            .map(|row| {
                let reference = row.iter().copied().find(|&v| v > 0.0).unwrap_or(0.0);
                row.iter()
                    .map(|&v| if v > 0.0 { reference } else { 0.0 })
                    .collect()
            })
            .collect(),
    }
}

/// How a deadline policy's feasibility LP hands out the capacity left once every job
/// meets its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spare {
    /// Nowhere in particular: the first vertex the solver finds (used while searching,
    /// where only feasibility matters).
    Nothing,
    /// Centrally, for the allocation minimum makespan and finish-time fairness return:
    /// first raise the smallest worker-time any job gets (time fraction times its
    /// workers, so that a gang is not favoured over a single worker), then, with a small
    /// weight, relative progress (rate over need) counted up to [`CENTRAL_GAIN_CAP`]
    /// times the need. Gavel solves these problems with an interior-point solver
    /// (ECOS), which returns a central point that gives every job some slack, not a
    /// vertex that gives all of it to the jobs closest to done.
    Central,
    /// No objective at all (Gavel's `min_total_duration`: maximise 1), so that an
    /// interior-point method returns whatever central point of the feasible set it
    /// reaches, as ECOS does for Gavel (`--gavel-compat`).
    Feasible,
}

/// How a deadline policy searches for its target value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadlineSearch {
    /// tessera's: up from a lower bound no job can beat, doubling, then bisection to
    /// within 0.01%.
    #[default]
    Tight,
    /// Gavel's `min_total_duration` (`--gavel-compat`): bisection on [100 s, 10^6 s] while
    /// the bracket is wider than 5%, and, if nothing in it is feasible, on the next
    /// bracket ten times larger; the allocation is the one at the bracket's top.
    Gavel,
}

/// See [`Spare::Central`]. Measured against Gavel's runs (docs/scheduler.md): with the
/// spare going wholly to the largest relative gains, min-makespan-perf's average JCT on
/// the continuous trace came out 17% below Gavel's and agnostic finish-time fairness's
/// makespan 5.6% above; with no spare at all, 9% above and average JCT 6% above; central
/// with a cap of 2, every minimum-makespan and finish-time-fairness row within 4.1%.
const CENTRAL_GAIN_CAP: f64 = 2.0;

/// An allocation giving each job at least `need[j]` steps/s under throughputs `t`, if one
/// exists, with the spare capacity handed out as `spare` says.
fn meets_rates(
    t: &[Vec<f64>],
    jobs: &[JobRow],
    need: &[f64],
    capacity: &[u32],
    spare: Spare,
    solver: Solver,
) -> Result<Option<Allocation>, PolicyError> {
    let (mut vars, x) = x_vars(t);
    let relative = |j: usize| -> Vec<f64> { t[j].iter().map(|v| v / need[j].max(1e-12)).collect() };
    let mut obj = Expression::from(0.0);
    // Central: a floor on every job's worker-time, and per-job gains
    // y_j <= min(rate_j / need_j, cap).
    let (floor, gains): (Option<Variable>, Vec<Variable>) = match spare {
        Spare::Nothing | Spare::Feasible => (None, Vec::new()),
        Spare::Central => {
            let floor = vars.add(variable().min(0.0).max(1.0));
            let gains: Vec<Variable> = (0..t.len())
                .map(|_| vars.add(variable().min(0.0).max(CENTRAL_GAIN_CAP)))
                .collect();
            obj += floor;
            let w = 0.1 / t.len().max(1) as f64;
            for y in &gains {
                obj += w * *y;
            }
            (Some(floor), gains)
        }
    };
    let ones = vec![1u32; jobs.len()];
    let mut m = base_constraints(
        vars.maximise(obj).using(lp(solver)),
        &x,
        jobs,
        &ones,
        capacity,
    );
    for (j, row) in t.iter().enumerate() {
        m = m.with(row_expr(&x, j, row).geq(need[j]));
        if let (Some(floor), Some(y)) = (floor, gains.get(j)) {
            m = m.with((row_expr(&x, j, &relative(j)) - *y).geq(0.0));
            let sf = f64::from(jobs[j].scale_factor.max(1));
            let usable: Vec<f64> = row
                .iter()
                .map(|&v| if v > 0.0 { sf } else { 0.0 })
                .collect();
            m = m.with((row_expr(&x, j, &usable) - floor).geq(0.0));
        }
    }
    match m.solve() {
        Ok(s) => Ok(Some(extract(&x, &s))),
        Err(ResolutionError::Infeasible) => Ok(None),
        Err(e) => Err(solver_err(e)),
    }
}

/// Bisection on a scalar `v` for the smallest value at which `need(v)` is feasible;
/// `need` must get easier as `v` grows. Returns the allocation at the found value.
#[allow(clippy::too_many_arguments)]
fn bisect(
    t: &[Vec<f64>],
    jobs: &[JobRow],
    capacity: &[u32],
    solver: Solver,
    lo: f64,
    spare: Spare,
    search: DeadlineSearch,
    need: impl Fn(f64) -> Option<Vec<f64>>,
) -> Result<Allocation, PolicyError> {
    // Feasibility does not depend on where the spare goes, nor on the LP method: search
    // with the cheapest LP (the simplex method: an interior-point method near the edge of
    // feasibility can stop at its iteration limit without a verdict), then hand out the
    // spare at the value found with the chosen method.
    let try_at = |v: f64| -> Result<Option<Allocation>, PolicyError> {
        match need(v) {
            Some(n) => meets_rates(t, jobs, &n, capacity, Spare::Nothing, Solver::Simplex),
            None => Ok(None),
        }
    };
    if search == DeadlineSearch::Gavel {
        return gavel_search(t, jobs, capacity, solver, spare, &try_at, &need);
    }
    let mut lo = lo.max(1e-9);
    let mut hi = lo * 2.0;
    let mut best = None;
    for _ in 0..60 {
        if let Some(a) = try_at(hi)? {
            best = Some(a);
            break;
        }
        lo = hi;
        hi *= 2.0;
    }
    let Some(mut best) = best else {
        return Err(PolicyError::Solver("no feasible deadline found".into()));
    };
    for _ in 0..18 {
        let mid = 0.5 * (lo + hi);
        match try_at(mid)? {
            Some(a) => {
                best = a;
                hi = mid;
            }
            None => lo = mid,
        }
        if hi - lo <= 1e-4 * hi {
            break;
        }
    }
    spare_at(t, jobs, capacity, solver, spare, &need, hi, best)
}

/// The allocation at the value `v` found, with the spare handed out as `spare` says;
/// `best` (the simplex method's, found while searching) where that fails.
#[allow(clippy::too_many_arguments)]
fn spare_at(
    t: &[Vec<f64>],
    jobs: &[JobRow],
    capacity: &[u32],
    solver: Solver,
    spare: Spare,
    need: &impl Fn(f64) -> Option<Vec<f64>>,
    v: f64,
    best: Allocation,
) -> Result<Allocation, PolicyError> {
    // Nothing to hand out, or (no objective) the simplex method's first vertex is as
    // good as any: the search's allocation stands.
    if solver == Solver::Simplex && matches!(spare, Spare::Nothing | Spare::Feasible) {
        return Ok(best);
    }
    match need(v) {
        Some(n) => match meets_rates(t, jobs, &n, capacity, spare, solver) {
            Ok(a) => Ok(a.unwrap_or(best)),
            // At the edge of feasibility the interior-point method may stop without a
            // certificate; the simplex method's allocation at that value stands.
            Err(_) if solver == Solver::Interior => Ok(best),
            Err(e) => Err(e),
        },
        None => Ok(best),
    }
}

/// Gavel's search ([`DeadlineSearch::Gavel`], `scheduler/policies/min_total_duration.py`
/// at c4fa400): brackets [100, 10^6], then [10^6, 10^7] and so on until one holds a
/// feasible value; within a bracket, bisection while `1.05 * lo < hi`. The value kept is
/// the last feasible midpoint (up to 5% above the smallest feasible one, which leaves
/// every job some slack). Bounded at 30 brackets (10^36 s).
fn gavel_search(
    t: &[Vec<f64>],
    jobs: &[JobRow],
    capacity: &[u32],
    solver: Solver,
    spare: Spare,
    try_at: &impl Fn(f64) -> Result<Option<Allocation>, PolicyError>,
    need: &impl Fn(f64) -> Option<Vec<f64>>,
) -> Result<Allocation, PolicyError> {
    let (mut lo, mut hi, mut top) = (100.0f64, 1e6f64, 1e6f64);
    for _ in 0..30 {
        let mut found: Option<(f64, Allocation)> = None;
        while 1.05 * lo < hi {
            let mid = 0.5 * (lo + hi);
            match try_at(mid)? {
                Some(a) => {
                    found = Some((mid, a));
                    hi = mid;
                }
                None => lo = mid,
            }
        }
        if let Some((v, a)) = found {
            return spare_at(t, jobs, capacity, solver, spare, need, v, a);
        }
        (lo, hi, top) = (top, top * 10.0, top * 10.0);
    }
    Err(PolicyError::Solver("no feasible deadline found".into()))
}

/// Minimum makespan (Gavel's `min_total_duration`): the allocation under which every job
/// finishes its `remaining` steps soonest, found by bisection on the makespan with a
/// feasibility LP at each step. With [`DeadlineSearch::Gavel`], Gavel's search and its
/// objective-free LP at the value found.
pub fn min_makespan(
    jobs: &[JobRow],
    remaining: &[f64],
    capacity: &[u32],
    a: Awareness,
    solver: Solver,
    search: DeadlineSearch,
) -> Result<Allocation, PolicyError> {
    let spare = match search {
        DeadlineSearch::Tight => Spare::Central,
        DeadlineSearch::Gavel => Spare::Feasible,
    };
    deadline_allocation(
        jobs,
        remaining,
        capacity,
        (solver, spare, search),
        a,
        |r, rem| {
            // No job can beat running alone on its fastest type.
            let lo =
                r.t.iter()
                    .zip(rem)
                    .map(|(row, r)| r / row.iter().copied().fold(0.0, f64::max))
                    .fold(0.0, f64::max);
            (vec![(1.0, 0.0); rem.len()], lo)
        },
    )
}

/// Each job's throughput on an equal 1/n share of the cluster (n the number of jobs),
/// as Gavel's isolated policy computes it: `capacity[t] / n / scale_factor` of each type,
/// scaled down so that the shares sum to at most 1, times the job's throughput (the
/// planning throughput: the reference type's for agnostic policies). 0 for a job that
/// can run nowhere.
pub fn isolated_throughput(jobs: &[JobRow], capacity: &[u32], a: Awareness) -> Vec<f64> {
    let t = planning_matrix(jobs, capacity, a);
    let n = jobs.len().max(1) as f64;
    jobs.iter()
        .zip(&t)
        .map(|(j, row)| {
            let sf = f64::from(j.scale_factor.max(1));
            let share: Vec<f64> = capacity.iter().map(|&c| c as f64 / n / sf).collect();
            let sum: f64 = share.iter().sum();
            let scale = if sum > 1.0 { 1.0 / sum } else { 1.0 };
            row.iter().zip(&share).map(|(v, s)| v * s * scale).sum()
        })
        .collect()
}

/// Finish-time fairness (Themis, as Gavel formulates it): minimise the largest ratio of
/// a job's expected finish time under sharing to its expected finish time in isolation,
/// `(age + remaining / rate) / (done_isolated + remaining / isolated_rate)`, by bisection
/// on the ratio with a feasibility LP at each step. `isolated_rate` is
/// [`isolated_throughput`] over the current jobs; `done_isolated_s` is the time the
/// progress made so far would have taken in isolation (the caller accumulates it, as
/// Gavel does, from the steps done between allocations at the isolated rate of the
/// earlier allocation).
pub fn finish_time_fairness(
    jobs: &[JobRow],
    remaining: &[f64],
    done_isolated_s: &[f64],
    age_s: &[f64],
    capacity: &[u32],
    a: Awareness,
    solver: Solver,
) -> Result<Allocation, PolicyError> {
    let how = (solver, Spare::Central, DeadlineSearch::Tight);
    deadline_allocation(jobs, remaining, capacity, how, a, |r, rem| {
        let rate = isolated_throughput(jobs, capacity, a);
        let terms: Vec<(f64, f64)> = r
            .idx
            .iter()
            .zip(rem)
            .map(|(&j, rem)| {
                let iso = done_isolated_s[j].max(0.0) + rem / rate[j].max(1e-12);
                (iso, age_s[j].max(0.0))
            })
            .collect();
        let lo = terms.iter().map(|(iso, age)| age / iso).fold(0.0, f64::max);
        (terms, lo)
    })
}

/// The deadline policies' common form: to meet a target `v` (a makespan, a fairness
/// ratio), runnable job `k` needs `rem_k / (v * a_k - b_k)` steps/s, and the smallest
/// feasible `v` is found by bisection from a lower bound. `terms` gives, for the
/// runnable jobs and their remaining steps, each `(a_k, b_k)` and the bound. The spare
/// capacity at that `v` is handed out centrally; agnostic allocations are spread over
/// the types like their counts.
fn deadline_allocation(
    jobs: &[JobRow],
    remaining: &[f64],
    capacity: &[u32],
    (solver, spare, search): (Solver, Spare, DeadlineSearch),
    a: Awareness,
    terms: impl FnOnce(&Runnable, &[f64]) -> (Vec<(f64, f64)>, f64),
) -> Result<Allocation, PolicyError> {
    check(jobs, capacity)?;
    let Some(r) = runnable(jobs, capacity, a) else {
        return Ok(scatter(
            jobs.len(),
            capacity.len(),
            &[],
            Allocation { x: Vec::new() },
        ));
    };
    let rem: Vec<f64> = r.idx.iter().map(|&j| remaining[j].max(0.0)).collect();
    let (ab, lo) = terms(&r, &rem);
    let mut sub = bisect(&r.t, &r.jobs, capacity, solver, lo, spare, search, |v| {
        rem.iter()
            .zip(&ab)
            .map(|(rem, &(a, b))| {
                let left = v * a - b;
                (left > 0.0).then(|| rem / left)
            })
            .collect()
    })?;
    if a == Awareness::Agnostic {
        spread_like_capacity(&mut sub, &r.t, capacity);
    }
    Ok(scatter(jobs.len(), capacity.len(), &r.idx, sub))
}

/// The jobs a deadline policy can place at all, with their planning throughputs.
struct Runnable {
    /// Their indices among all jobs.
    idx: Vec<usize>,
    t: Vec<Vec<f64>>,
    jobs: Vec<JobRow>,
}

fn runnable(jobs: &[JobRow], capacity: &[u32], a: Awareness) -> Option<Runnable> {
    let t = planning_matrix(jobs, capacity, a);
    let idx: Vec<usize> = (0..jobs.len())
        .filter(|&j| t[j].iter().any(|&v| v > 0.0))
        .collect();
    (!idx.is_empty()).then(|| Runnable {
        t: idx.iter().map(|&j| t[j].clone()).collect(),
        jobs: idx.iter().map(|&j| jobs[j].clone()).collect(),
        idx,
    })
}

fn scatter(n: usize, nt: usize, idx: &[usize], sub: Allocation) -> Allocation {
    let mut x = vec![vec![0.0; nt]; n];
    for (k, &j) in idx.iter().enumerate() {
        x[j] = sub.x[k].clone();
    }
    Allocation { x }
}

/// A solution with every variable at 0 (no job can run).
struct NoSolution;
impl good_lp::Solution for NoSolution {
    fn status(&self) -> good_lp::SolutionStatus {
        good_lp::SolutionStatus::Optimal
    }
    fn value(&self, _: Variable) -> f64 {
        0.0
    }
}

/// The smallest weighted, normalised throughput an allocation gives (the max-min
/// objective, measured with the real throughputs).
pub fn min_normalised_throughput(jobs: &[JobRow], capacity: &[u32], al: &Allocation) -> f64 {
    let usable = effective_matrix_mixed(jobs, capacity, Awareness::Aware);
    let prop = proportional_mixed(jobs, &usable, capacity, jobs.len());
    jobs.iter()
        .enumerate()
        .filter(|(j, _)| usable[*j].iter().any(|&v| v > 0.0))
        .map(|(j, job)| {
            effective_throughput(job, &al.x[j]) * job.scale_factor as f64
                / (job.weight * prop[j].max(1e-12))
        })
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(t: &[f64], sf: u32, w: f64) -> JobRow {
        JobRow {
            throughput: t.to_vec(),
            scale_factor: sf,
            weight: w,
            mixed: Vec::new(),
        }
    }

    /// Every allocation must respect the base constraints.
    fn feasible(jobs: &[JobRow], cap: &[u32], a: &Allocation) {
        for (j, row) in a.x.iter().enumerate() {
            assert!(row.iter().all(|&v| v >= -1e-9), "{row:?}");
            assert!(row.iter().sum::<f64>() <= 1.0 + 1e-6, "job {j}: {row:?}");
            assert!(row.len() <= cap.len() + jobs[j].mixed.len());
            for (t, &v) in row.iter().enumerate().take(cap.len()) {
                if jobs[j].throughput[t] == 0.0 {
                    assert_eq!(v, 0.0);
                }
            }
        }
        let nt = cap.len();
        for (t, &c) in cap.iter().enumerate() {
            let used: f64 =
                a.x.iter()
                    .zip(jobs)
                    .map(|(r, j)| {
                        r[t] * j.scale_factor as f64
                            + j.mixed
                                .iter()
                                .zip(r.iter().skip(nt))
                                .map(|(m, v)| v * m.workers_on(t) as f64)
                                .sum::<f64>()
                    })
                    .sum();
            assert!(used <= c as f64 + 1e-6, "type {t}: {used} > {c}");
        }
    }

    fn gang(uses: &[(usize, u32)], throughput: f64) -> MixedUse {
        MixedUse {
            uses: uses.to_vec(),
            throughput,
            pieces: Vec::new(),
        }
    }

    /// A job larger than any one type runs as a gang across two: all of its time.
    #[test]
    fn a_gang_across_types_gets_time_where_no_type_fits() {
        let jobs = [JobRow {
            mixed: vec![gang(&[(0, 4), (1, 4)], 2.0)],
            ..job(&[0.0, 0.0], 8, 1.0)
        }];
        for p in ["mmf", "sum", "norm"] {
            let al = match p {
                "mmf" => max_min_fairness(&jobs, &[4, 4], Awareness::Aware, Solver::Simplex),
                "sum" => {
                    max_sum_throughput(&jobs, &[4, 4], Awareness::Aware, false, Solver::Simplex)
                }
                _ => max_sum_throughput(&jobs, &[4, 4], Awareness::Aware, true, Solver::Simplex),
            }
            .unwrap();
            feasible(&jobs, &[4, 4], &al);
            assert!((al.x[0][2] - 1.0).abs() < 1e-6, "{p}: {al:?}");
            assert!((effective_throughput(&jobs[0], &al.x[0]) - 2.0).abs() < 1e-6);
        }
        // Agnostic policies and those that plan one type per job give it nothing.
        let al = max_min_fairness(&jobs, &[4, 4], Awareness::Agnostic, Solver::Simplex).unwrap();
        assert!(al.x[0].iter().all(|&v| v == 0.0), "{al:?}");
        // A gang that does not fit the cluster gets nothing either.
        let al = max_min_fairness(&jobs, &[4, 3], Awareness::Aware, Solver::Simplex).unwrap();
        assert!(al.x[0].iter().all(|&v| v == 0.0), "{al:?}");
    }

    /// Two jobs that run at 1 step/s on type 0 or at 1.5 as a gang over both types: type
    /// 0 is the bottleneck (each job gets at most half of it), and spending that half as
    /// a gang gives each 0.75 step/s, the max-min optimum, with both types' capacity
    /// counted for the gangs.
    #[test]
    fn gangs_across_types_count_on_every_type_they_use() {
        let one = JobRow {
            mixed: vec![gang(&[(0, 4), (1, 4)], 1.5)],
            ..job(&[1.0, 0.0], 4, 1.0)
        };
        let jobs = [one.clone(), one];
        for solver in [Solver::Simplex, Solver::Interior] {
            let al = max_min_fairness(&jobs, &[4, 4], Awareness::Aware, solver).unwrap();
            feasible(&jobs, &[4, 4], &al);
            for (j, (job, x)) in jobs.iter().zip(&al.x).enumerate() {
                let r = effective_throughput(job, x);
                assert!((r - 0.75).abs() < 1e-4, "{solver:?} job {j}: {r} {al:?}");
            }
        }
    }

    /// Random jobs, some with gangs across types: the allocations keep every type's
    /// capacity, counting the gangs' workers, and more ways to run never lower the most
    /// total throughput (the program without gangs is the one with their columns at 0).
    #[test]
    fn random_gangs_keep_capacity() {
        let mut g = crate::workload::Rng::new(11);
        let mut gained = 0;
        for _ in 0..40 {
            let nt = 2 + g.below(2);
            let cap: Vec<u32> = (0..nt).map(|_| 1 + g.below(8) as u32).collect();
            let jobs: Vec<JobRow> = (0..1 + g.below(8))
                .map(|_| {
                    let t: Vec<f64> = (0..nt)
                        .map(|_| {
                            if g.below(4) == 0 {
                                0.0
                            } else {
                                0.5 + 3.0 * g.unit()
                            }
                        })
                        .collect();
                    let mixed = (0..g.below(3))
                        .map(|_| {
                            let a = g.below(nt);
                            let b = (a + 1 + g.below(nt - 1)) % nt;
                            gang(
                                &[(a, 1 + g.below(5) as u32), (b, 1 + g.below(5) as u32)],
                                0.5 + 5.0 * g.unit(),
                            )
                        })
                        .collect();
                    JobRow {
                        mixed,
                        ..job(&t, [1, 2, 4][g.below(3)], 1.0 + g.below(2) as f64)
                    }
                })
                .collect();
            let plain: Vec<JobRow> = jobs
                .iter()
                .map(|j| JobRow {
                    mixed: Vec::new(),
                    ..j.clone()
                })
                .collect();
            for a in [Awareness::Agnostic, Awareness::Aware] {
                let al = max_min_fairness(&jobs, &cap, a, Solver::Simplex).unwrap();
                feasible(&jobs, &cap, &al);
                let al = max_sum_throughput(&jobs, &cap, a, true, Solver::Simplex).unwrap();
                feasible(&jobs, &cap, &al);
            }
            let total = |jobs: &[JobRow]| -> f64 {
                let al = max_sum_throughput(jobs, &cap, Awareness::Aware, false, Solver::Simplex)
                    .unwrap();
                feasible(jobs, &cap, &al);
                jobs.iter()
                    .zip(&al.x)
                    .map(|(j, x)| effective_throughput(j, x))
                    .sum()
            };
            let (with, without) = (total(&jobs), total(&plain));
            assert!(
                with >= without - 1e-6 * without.max(1.0),
                "{with} < {without}"
            );
            if with > without + 1e-6 {
                gained += 1;
            }
        }
        // Some cases really used the gangs.
        assert!(gained > 0);
    }

    #[test]
    fn two_jobs_share_one_gpu_equally() {
        let jobs = [job(&[2.0], 1, 1.0), job(&[5.0], 1, 1.0)];
        for a in [Awareness::Agnostic, Awareness::Aware] {
            let al = max_min_fairness(&jobs, &[1], a, Solver::Simplex).unwrap();
            feasible(&jobs, &[1], &al);
            // Normalised by each job's own proportional share, equal time is fair.
            assert!((al.x[0][0] - 0.5).abs() < 1e-6, "{a:?}: {al:?}");
            assert!((al.x[1][0] - 0.5).abs() < 1e-6, "{a:?}: {al:?}");
        }
    }

    #[test]
    fn weights_scale_the_share() {
        let jobs = [job(&[1.0], 1, 1.0), job(&[1.0], 1, 3.0)];
        let al = max_min_fairness(&jobs, &[1], Awareness::Aware, Solver::Simplex).unwrap();
        assert!((al.x[0][0] - 0.25).abs() < 1e-6, "{al:?}");
        assert!((al.x[1][0] - 0.75).abs() < 1e-6, "{al:?}");
    }

    #[test]
    fn aware_sends_each_job_where_it_gains_most() {
        // Type 0 (fast) and type 1 (slow), one of each. Job A runs 10x faster on type 0,
        // job B only 2x: the aware allocation gives A the fast type.
        let jobs = [job(&[10.0, 1.0], 1, 1.0), job(&[2.0, 1.0], 1, 1.0)];
        let cap = [1, 1];
        let aware = max_min_fairness(&jobs, &cap, Awareness::Aware, Solver::Simplex).unwrap();
        let agn = max_min_fairness(&jobs, &cap, Awareness::Agnostic, Solver::Simplex).unwrap();
        feasible(&jobs, &cap, &aware);
        feasible(&jobs, &cap, &agn);
        // Normalised by their proportional shares, both jobs end equal at 1.0.
        let va0 = min_normalised_throughput(&jobs, &cap, &aware);
        assert!((va0 - 1.0).abs() < 1e-6, "{aware:?}");
        // A third job that only runs on the fast type: the aware policy moves job B off
        // it, the agnostic one cannot tell the difference.
        let jobs = [
            job(&[10.0, 1.0], 1, 1.0),
            job(&[2.0, 1.9], 1, 1.0),
            job(&[4.0, 0.0], 1, 1.0),
        ];
        let aware = max_min_fairness(&jobs, &cap, Awareness::Aware, Solver::Simplex).unwrap();
        feasible(&jobs, &cap, &aware);
        assert!(aware.x[1][0] < 0.05, "{aware:?}");
        let agn = max_min_fairness(&jobs, &cap, Awareness::Agnostic, Solver::Simplex).unwrap();
        let va = min_normalised_throughput(&jobs, &cap, &aware);
        let vg = min_normalised_throughput(&jobs, &cap, &agn);
        assert!(va >= vg - 1e-9, "aware {va} < agnostic {vg}");
    }

    #[test]
    fn multi_gpu_jobs_take_scale_factor_workers() {
        // 4 GPUs; a 4-GPU job and a 1-GPU job.
        let jobs = [job(&[4.0], 4, 1.0), job(&[1.0], 1, 1.0)];
        let al = max_min_fairness(&jobs, &[4], Awareness::Aware, Solver::Simplex).unwrap();
        feasible(&jobs, &[4], &al);
        // A job larger than a type cannot be placed there.
        let jobs = [job(&[4.0, 1.0], 8, 1.0)];
        let al = max_min_fairness(&jobs, &[4, 16], Awareness::Aware, Solver::Simplex).unwrap();
        assert_eq!(al.x[0][0], 0.0);
        assert!(al.x[0][1] > 0.99);
    }

    /// A tiny deterministic generator for property tests.
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

    #[test]
    fn aware_is_never_worse_on_its_own_objective() {
        let mut g = Lcg(7);
        for case in 0..100 {
            let nt = 1 + g.next(3) as usize;
            let cap: Vec<u32> = (0..nt).map(|_| 1 + g.next(6) as u32).collect();
            let jobs: Vec<JobRow> = (0..1 + g.next(8))
                .map(|_| {
                    job(
                        &(0..nt).map(|_| g.next(20) as f64 * 0.5).collect::<Vec<_>>(),
                        1 << g.next(3),
                        1.0 + g.next(3) as f64,
                    )
                })
                .collect();
            let aware = max_min_fairness(&jobs, &cap, Awareness::Aware, Solver::Simplex).unwrap();
            let agn = max_min_fairness(&jobs, &cap, Awareness::Agnostic, Solver::Simplex).unwrap();
            feasible(&jobs, &cap, &aware);
            feasible(&jobs, &cap, &agn);
            let (va, vg) = (
                min_normalised_throughput(&jobs, &cap, &aware),
                min_normalised_throughput(&jobs, &cap, &agn),
            );
            assert!(va >= vg * (1.0 - 1e-6) - 1e-9, "case {case}: {va} < {vg}");
            // Max sum normalised throughput beats both on total normalised throughput,
            // and Gavel's raw sum beats the normalised one on raw steps/s.
            let ms =
                max_sum_throughput(&jobs, &cap, Awareness::Aware, true, Solver::Simplex).unwrap();
            let raw =
                max_sum_throughput(&jobs, &cap, Awareness::Aware, false, Solver::Simplex).unwrap();
            feasible(&jobs, &cap, &ms);
            feasible(&jobs, &cap, &raw);
            let raw_total = |al: &Allocation| -> f64 {
                jobs.iter()
                    .enumerate()
                    .map(|(j, jb)| effective_throughput(jb, &al.x[j]))
                    .sum()
            };
            assert!(raw_total(&raw) >= raw_total(&ms) - 1e-6, "case {case}");
            let total = |al: &Allocation| -> f64 {
                jobs.iter()
                    .enumerate()
                    .map(|(j, jb)| {
                        let best = jb
                            .throughput
                            .iter()
                            .zip(&cap)
                            .filter(|(_, c)| jb.scale_factor <= **c)
                            .map(|(t, _)| *t)
                            .fold(0.0, f64::max);
                        if best > 0.0 {
                            effective_throughput(jb, &al.x[j]) / best
                        } else {
                            0.0
                        }
                    })
                    .sum()
            };
            assert!(total(&ms) >= total(&aware) - 1e-6, "case {case}");
        }
    }

    #[test]
    fn packing_pays_only_when_the_pair_beats_time_sharing() {
        // Two jobs, one GPU, 1 step/s alone each. Co-located at 0.8 step/s each, the pair
        // runs all the time (0.8 each, against 0.5 time-shared); at 0.3 each it is left
        // out.
        let jobs = [job(&[1.0], 1, 1.0), job(&[1.0], 1, 1.0)];
        let pair = |r: f64| PairRow {
            a: 0,
            b: 1,
            throughput: vec![(r, r)],
        };
        let good = max_min_fairness_packed(&jobs, &[pair(0.8)], &[1], Solver::Simplex).unwrap();
        assert!(good.pairs[0][0] > 0.99, "{good:?}");
        let bad = max_min_fairness_packed(&jobs, &[pair(0.3)], &[1], Solver::Simplex).unwrap();
        assert!(bad.pairs[0][0] < 1e-6, "{bad:?}");
        assert!((bad.single.x[0][0] - 0.5).abs() < 1e-6 && (bad.single.x[1][0] - 0.5).abs() < 1e-6);
        // Different scale factors never pair.
        let mixed = [job(&[1.0], 1, 1.0), job(&[1.0], 2, 1.0)];
        let r = max_min_fairness_packed(&mixed, &[pair(0.9)], &[2], Solver::Simplex).unwrap();
        assert_eq!(r.pairs[0][0], 0.0);
        // No pairs at all: the same objective as max-min fairness.
        let plain = max_min_fairness_packed(&jobs, &[], &[1], Solver::Simplex).unwrap();
        let mmf = max_min_fairness(&jobs, &[1], Awareness::Aware, Solver::Simplex).unwrap();
        assert!(
            (min_normalised_throughput(&jobs, &[1], &plain.single)
                - min_normalised_throughput(&jobs, &[1], &mmf))
            .abs()
                < 1e-9
        );
    }

    #[test]
    fn min_makespan_balances_finish_times() {
        // One GPU, two jobs of 100 and 300 steps at 1 step/s: the makespan is 400 s
        // whatever the split, so each job gets a share that lets both finish by 400 s.
        let jobs = [job(&[1.0], 1, 1.0), job(&[1.0], 1, 1.0)];
        let al = min_makespan(
            &jobs,
            &[100.0, 300.0],
            &[1],
            Awareness::Aware,
            Solver::Simplex,
            DeadlineSearch::Tight,
        )
        .unwrap();
        feasible(&jobs, &[1], &al);
        assert!(
            al.x[0][0] >= 0.25 - 1e-3 && al.x[1][0] >= 0.75 - 1e-3,
            "{al:?}"
        );
        // Heterogeneous: the aware plan puts the job that gains on the fast type.
        let jobs = [job(&[10.0, 1.0], 1, 1.0), job(&[1.0, 1.0], 1, 1.0)];
        let al = min_makespan(
            &jobs,
            &[1000.0, 100.0],
            &[1, 1],
            Awareness::Aware,
            Solver::Simplex,
            DeadlineSearch::Tight,
        )
        .unwrap();
        feasible(&jobs, &[1, 1], &al);
        assert!(al.x[0][0] > 0.9, "{al:?}");
    }

    /// Gavel's deadline search stops within 5% of the smallest feasible makespan, and
    /// looks past its first bracket when nothing in it is feasible; the allocation at
    /// the value found meets every job's rate for that makespan.
    #[test]
    fn gavels_deadline_search_stops_within_five_percent() {
        // One GPU, two jobs of 1,000 and 3,000 steps at 1 step/s: the smallest makespan
        // is 4,000 s. Gavel's search keeps a value in [4,000, 4,200) s, so each job gets
        // at least its steps over that value, and the spare goes somewhere.
        let jobs = [job(&[1.0], 1, 1.0), job(&[1.0], 1, 1.0)];
        let rem = [1000.0, 3000.0];
        for solver in [Solver::Simplex, Solver::Interior] {
            let al = min_makespan(
                &jobs,
                &rem,
                &[1],
                Awareness::Aware,
                solver,
                DeadlineSearch::Gavel,
            )
            .unwrap();
            feasible(&jobs, &[1], &al);
            // The makespan this allocation gives: the later of the two finish times.
            let t = (rem[0] / al.x[0][0]).max(rem[1] / al.x[1][0]);
            assert!(
                (4000.0 * 0.999..4200.0).contains(&t),
                "{solver:?}: {t} {al:?}"
            );
            let tight = min_makespan(
                &jobs,
                &rem,
                &[1],
                Awareness::Aware,
                solver,
                DeadlineSearch::Tight,
            )
            .unwrap();
            let tt = (rem[0] / tight.x[0][0]).max(rem[1] / tight.x[1][0]);
            assert!((tt - 4000.0).abs() < 1.0, "{solver:?}: tight {tt}");
        }
        // Past the first bracket: 10^9 steps at 1 step/s need 10^9 s, beyond Gavel's
        // first three brackets; the search goes on to the bracket that holds it and
        // keeps a makespan under 5% above it (the simplex method gives the job just its
        // need: x = 10^9 / T).
        let jobs = [job(&[1.0], 1, 1.0)];
        let al = min_makespan(
            &jobs,
            &[1e9],
            &[1],
            Awareness::Aware,
            Solver::Simplex,
            DeadlineSearch::Gavel,
        )
        .unwrap();
        assert!((1.0 / 1.05..=1.0).contains(&al.x[0][0]), "{al:?}");
    }

    #[test]
    fn finish_time_fairness_helps_the_furthest_behind() {
        // Two equal jobs on one GPU; job 1 has waited 1,000 s: it gets the larger share.
        let jobs = [job(&[1.0], 1, 1.0), job(&[1.0], 1, 1.0)];
        let al = finish_time_fairness(
            &jobs,
            &[1000.0, 1000.0],
            &[0.0, 0.0],
            &[0.0, 1000.0],
            &[1],
            Awareness::Aware,
            Solver::Simplex,
        )
        .unwrap();
        feasible(&jobs, &[1], &al);
        assert!(al.x[1][0] > al.x[0][0], "{al:?}");
    }

    #[test]
    fn min_cost_prefers_progress_per_dollar() {
        // One job; type 0 is 2x faster but 4x dearer: the cheaper type wins.
        let jobs = [job(&[2.0, 1.0], 1, 1.0)];
        let al = min_cost(
            &jobs,
            &[1, 1],
            &[4.0, 1.0],
            Awareness::Aware,
            Solver::Simplex,
        )
        .unwrap();
        assert!(al.x[0][1] > 0.99 && al.x[0][0] < 0.01, "{al:?}");
        // At 1.5x the price the faster type gives more progress per dollar.
        let al = min_cost(
            &jobs,
            &[1, 1],
            &[1.5, 1.0],
            Awareness::Aware,
            Solver::Simplex,
        )
        .unwrap();
        assert!(al.x[0][0] > 0.99, "{al:?}");
        assert!(
            min_cost(
                &jobs,
                &[1, 1],
                &[0.0, 1.0],
                Awareness::Aware,
                Solver::Simplex
            )
            .is_err()
        );
    }

    #[test]
    fn bad_rows_are_errors() {
        assert!(matches!(
            max_min_fairness(
                &[job(&[1.0], 1, 1.0)],
                &[1, 1],
                Awareness::Aware,
                Solver::Simplex
            ),
            Err(PolicyError::Shape { .. })
        ));
        assert!(
            max_min_fairness(
                &[job(&[1.0], 0, 1.0)],
                &[1],
                Awareness::Aware,
                Solver::Simplex
            )
            .is_err()
        );
        assert!(
            max_min_fairness(
                &[job(&[1.0], 1, 0.0)],
                &[1],
                Awareness::Aware,
                Solver::Simplex
            )
            .is_err()
        );
        assert!(
            max_min_fairness(
                &[job(&[-1.0], 1, 1.0)],
                &[1],
                Awareness::Aware,
                Solver::Simplex
            )
            .is_err()
        );
        // No job can run: an all-zero allocation, not an error.
        let al = max_min_fairness(
            &[job(&[0.0], 1, 1.0)],
            &[1],
            Awareness::Aware,
            Solver::Simplex,
        )
        .unwrap();
        assert_eq!(al.x, vec![vec![0.0]]);
    }

    /// The interior-point method reaches the simplex method's optimum, and where the
    /// optimum is not unique it returns a central point rather than a vertex.
    #[test]
    fn interior_solutions_are_optimal_and_central() {
        // One job that runs equally fast on two types: every split of its time is optimal.
        let jobs = [job(&[1.0, 1.0], 1, 1.0)];
        let v = max_min_fairness(&jobs, &[1, 1], Awareness::Aware, Solver::Simplex).unwrap();
        let c = max_min_fairness(&jobs, &[1, 1], Awareness::Aware, Solver::Interior).unwrap();
        let sum = |a: &Allocation| a.x[0].iter().sum::<f64>();
        assert!(
            (sum(&v) - 1.0).abs() < 1e-9 && (sum(&c) - 1.0).abs() < 1e-6,
            "{v:?} {c:?}"
        );
        assert!(
            v.x[0].iter().any(|&x| x > 1.0 - 1e-9),
            "simplex: a vertex {v:?}"
        );
        assert!(
            c.x[0].iter().all(|&x| (x - 0.5).abs() < 1e-3),
            "interior: the centre {c:?}"
        );
        // On mixed jobs both reach the same objective.
        let mixed = [
            job(&[4.0, 1.0, 0.5], 1, 1.0),
            job(&[2.0, 2.0, 1.0], 2, 1.0),
            job(&[1.0, 0.0, 1.0], 1, 2.0),
            job(&[3.0, 1.5, 0.2], 4, 1.0),
        ];
        let cap = [4, 4, 8];
        let s = max_min_fairness(&mixed, &cap, Awareness::Aware, Solver::Simplex).unwrap();
        let i = max_min_fairness(&mixed, &cap, Awareness::Aware, Solver::Interior).unwrap();
        feasible(&mixed, &cap, &s);
        feasible(&mixed, &cap, &i);
        let (os, oi) = (
            min_normalised_throughput(&mixed, &cap, &s),
            min_normalised_throughput(&mixed, &cap, &i),
        );
        assert!((os - oi).abs() <= 1e-5 * os.max(1.0), "{os} vs {oi}");
        let ms =
            max_sum_throughput(&mixed, &cap, Awareness::Aware, false, Solver::Interior).unwrap();
        feasible(&mixed, &cap, &ms);
        assert!(
            Solver::parse("interior") == Some(Solver::Interior) && Solver::parse("ecos").is_none()
        );
    }
}
