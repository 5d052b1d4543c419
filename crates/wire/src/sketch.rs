//! The Datadog Agent's DDSketch: the distribution format behind `/api/beta/sketches`.
//!
//! Distributions are only correct across concurrent Lambda environments if every
//! sender and the backend agree on the bin layout, so these parameters are fixed to
//! the Agent's: relative accuracy ε = 1/128, so γ = 1 + 2ε = 1 + 1/64; the smallest
//! positive value kept apart from zero is 1e-9; keys are `i16` and carry a bias so
//! that the key of 1e-9 is 1; at most 4096 bins are kept (the lowest ones collapse
//! into each other first, so high quantiles stay exact).
//!
//! `key(v) = round_half_even(ln(v) / ln γ) + bias` for `v ≥ 1e-9`, `-key(-v)` for
//! negatives, `0` for values too close to zero. On the wire a sketch is the pair of
//! parallel arrays `k` (keys, `sint32`) and `n` (counts, `uint32` each ≤ 65535; a key
//! with more observations repeats) inside a [`Dogsketch`].

use crate::intake_error::IntakeDecodeError;
use crate::sketch_payload::Dogsketch;

/// Relative accuracy the Agent uses.
pub const RELATIVE_ACCURACY: f64 = 1.0 / 128.0;
/// Smallest magnitude that does not map to key 0.
pub const MIN_VALUE: f64 = 1.0e-9;
/// Largest number of distinct keys a sketch keeps.
pub const BIN_LIMIT: usize = 4096;
/// Largest count one wire bin carries.
pub const MAX_BIN_COUNT: u32 = u16::MAX as u32;
/// The key standing for +∞ (and its negation for −∞).
pub const MAX_KEY: i16 = i16::MAX;

const FORMAT: &str = "agent sketch";

/// The fixed mapping between values and keys.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    gamma: f64,
    gamma_ln: f64,
    norm_min: f64,
    bias: i32,
}

impl Mapping {
    fn agent() -> Self {
        let eps = RELATIVE_ACCURACY * 2.0;
        let gamma = 1.0 + eps;
        let gamma_ln = eps.ln_1p();
        let bias = -((MIN_VALUE.ln() / gamma_ln).floor() as i32) + 1;
        let mut m = Mapping {
            gamma,
            gamma_ln,
            norm_min: 0.0,
            bias,
        };
        m.norm_min = m.lower_bound(1);
        m
    }

    fn key(&self, v: f64) -> i16 {
        if v < 0.0 {
            return -self.key(-v);
        }
        if v.is_nan() || v < self.norm_min {
            return 0;
        }
        let rounded = (v.ln() / self.gamma_ln).round_ties_even();
        let key = rounded + f64::from(self.bias);
        key.clamp(1.0, f64::from(MAX_KEY)) as i16
    }

    fn lower_bound(&self, k: i16) -> f64 {
        if k < 0 {
            return -self.lower_bound(-k);
        }
        if k == MAX_KEY {
            return f64::INFINITY;
        }
        if k == 0 {
            return 0.0;
        }
        self.gamma.powf(f64::from(i32::from(k) - self.bias))
    }
}

fn mapping() -> &'static Mapping {
    static MAPPING: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
    MAPPING.get_or_init(Mapping::agent)
}

/// The key a value falls into.
pub fn key_for(v: f64) -> i16 {
    mapping().key(v)
}

/// The smallest value a key stands for.
pub fn bin_lower_bound(k: i16) -> f64 {
    mapping().lower_bound(k)
}

/// An Agent-compatible DDSketch: mergeable, with bounded relative error on quantiles.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSketch {
    /// `(key, count)` sorted by key, keys unique, counts > 0.
    bins: Vec<(i16, u64)>,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

impl Default for AgentSketch {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentSketch {
    pub fn new() -> Self {
        AgentSketch {
            bins: Vec::new(),
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn min(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.min)
    }
    pub fn max(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.max)
    }
    pub fn sum(&self) -> Option<f64> {
        (!self.is_empty()).then_some(self.sum)
    }
    pub fn avg(&self) -> Option<f64> {
        (!self.is_empty()).then(|| self.sum / self.count as f64)
    }

    /// `(key, count)` pairs, sorted by key.
    pub fn bins(&self) -> &[(i16, u64)] {
        &self.bins
    }

    /// Adds one observation. Non-finite values are ignored: they have no place in a sketch.
    pub fn insert(&mut self, v: f64) {
        self.insert_n(v, 1);
    }

    /// Adds `n` observations of the same value.
    pub fn insert_n(&mut self, v: f64, n: u32) {
        if n == 0 || !v.is_finite() {
            return;
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.count += u64::from(n);
        self.sum += v * f64::from(n);
        self.add_key(key_for(v), u64::from(n));
        self.trim();
    }

    fn add_key(&mut self, key: i16, n: u64) {
        match self.bins.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => self.bins[i].1 += n,
            Err(i) => self.bins.insert(i, (key, n)),
        }
    }

    /// Merges another sketch into this one without loss beyond the sketch's own error.
    pub fn merge(&mut self, other: &AgentSketch) {
        if other.is_empty() {
            return;
        }
        let mut merged = Vec::with_capacity(self.bins.len() + other.bins.len());
        let (mut a, mut b) = (self.bins.iter().peekable(), other.bins.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(ka, na)), Some(&&(kb, nb))) => {
                    if ka < kb {
                        merged.push((ka, na));
                        a.next();
                    } else if kb < ka {
                        merged.push((kb, nb));
                        b.next();
                    } else {
                        merged.push((ka, na + nb));
                        a.next();
                        b.next();
                    }
                }
                (Some(&&x), None) => {
                    merged.push(x);
                    a.next();
                }
                (None, Some(&&x)) => {
                    merged.push(x);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.bins = merged;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.trim();
    }

    /// Collapses the lowest keys into one so that at most [`BIN_LIMIT`] keys remain.
    fn trim(&mut self) {
        if self.bins.len() <= BIN_LIMIT {
            return;
        }
        let excess = self.bins.len() - BIN_LIMIT;
        let collapsed: u64 = self.bins[..excess].iter().map(|(_, n)| n).sum();
        self.bins.drain(..excess);
        self.bins[0].1 += collapsed;
    }

    /// The value at quantile `q` (0 ≤ q ≤ 1), within the sketch's relative accuracy.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.is_empty() || q.is_nan() {
            return None;
        }
        if q <= 0.0 {
            return Some(self.min);
        }
        if q >= 1.0 {
            return Some(self.max);
        }
        let m = mapping();
        let wanted = (q * (self.count - 1) as f64).round_ties_even();
        let mut seen = 0.0;
        for (i, &(k, n)) in self.bins.iter().enumerate() {
            seen += n as f64;
            if seen <= wanted {
                continue;
            }
            let weight = (seen - wanted) / n as f64;
            let mut low = m.lower_bound(k);
            let high = low * m.gamma;
            if i == 0 {
                low = self.min;
            }
            let estimate = low * weight + high * (1.0 - weight);
            return Some(estimate.clamp(self.min, self.max));
        }
        Some(self.max)
    }

    /// The wire form: counts above 65535 repeat their key, as the Agent does.
    pub fn to_dogsketch(&self, ts: i64) -> Dogsketch {
        let mut k = Vec::with_capacity(self.bins.len());
        let mut n = Vec::with_capacity(self.bins.len());
        for &(key, count) in &self.bins {
            let mut left = count;
            while left > 0 {
                let chunk = left.min(u64::from(MAX_BIN_COUNT));
                k.push(i32::from(key));
                n.push(chunk as u32);
                left -= chunk;
            }
        }
        let empty = self.is_empty();
        Dogsketch {
            ts,
            cnt: self.count as i64,
            min: if empty { 0.0 } else { self.min },
            max: if empty { 0.0 } else { self.max },
            avg: self.avg().unwrap_or(0.0),
            sum: self.sum,
            k,
            n,
        }
    }

    /// Reads the wire form, checking keys and counts so a hostile payload cannot
    /// produce a sketch that lies about itself.
    pub fn from_dogsketch(d: &Dogsketch) -> Result<Self, IntakeDecodeError> {
        if d.k.len() != d.n.len() {
            return Err(IntakeDecodeError::invalid(
                FORMAT,
                format!("k has {} keys but n has {} counts", d.k.len(), d.n.len()),
            ));
        }
        let mut sketch = AgentSketch::new();
        for (&k, &n) in d.k.iter().zip(&d.n) {
            if k.unsigned_abs() > MAX_KEY as u32 {
                return Err(IntakeDecodeError::invalid(
                    FORMAT,
                    format!("key {k} is outside the agent sketch range ±{MAX_KEY}"),
                ));
            }
            if n > MAX_BIN_COUNT {
                return Err(IntakeDecodeError::invalid(
                    FORMAT,
                    format!("bin count {n} exceeds {MAX_BIN_COUNT}"),
                ));
            }
            if n > 0 {
                sketch.add_key(k as i16, u64::from(n));
                sketch.count += u64::from(n);
            }
        }
        sketch.trim();
        if sketch.count > 0 {
            let finite = |v: f64, fallback: f64| if v.is_finite() { v } else { fallback };
            let lowest = bin_lower_bound(sketch.bins[0].0);
            let highest = bin_lower_bound(sketch.bins[sketch.bins.len() - 1].0);
            sketch.min = finite(d.min, lowest);
            sketch.max = finite(d.max, highest);
            if sketch.min > sketch.max {
                std::mem::swap(&mut sketch.min, &mut sketch.max);
            }
            sketch.sum = finite(d.sum, d.avg * sketch.count as f64);
        }
        Ok(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_matches_agent_parameters() {
        let m = mapping();
        assert_eq!(m.gamma, 1.015625);
        // floor(ln(1e-9)/ln(1+1/64)) = -1337, so the bias is 1338.
        assert_eq!(m.bias, 1338);
        assert_eq!(key_for(0.0), 0);
        assert_eq!(key_for(1e-12), 0);
        assert_eq!(key_for(MIN_VALUE), 1);
        assert_eq!(key_for(1.0), 1338);
        assert_eq!(key_for(-1.0), -1338);
        assert_eq!(key_for(f64::MAX), MAX_KEY);
        for k in [1i16, 2, 100, 1339, 2000, 5000] {
            assert_eq!(key_for(bin_lower_bound(k)), k);
        }
    }

    #[test]
    fn quantiles_are_within_relative_accuracy() {
        let mut s = AgentSketch::new();
        for i in 1..=10_000 {
            s.insert(i as f64);
        }
        for q in [0.5, 0.9, 0.95, 0.99] {
            let exact = (q * 9_999.0_f64).round() + 1.0;
            let got = s.quantile(q).unwrap();
            assert!(
                ((got - exact) / exact).abs() <= 2.0 * RELATIVE_ACCURACY,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(s.quantile(0.0), Some(1.0));
        assert_eq!(s.quantile(1.0), Some(10_000.0));
    }

    #[test]
    fn merge_equals_inserting_everything() {
        let (mut a, mut b, mut all) = (AgentSketch::new(), AgentSketch::new(), AgentSketch::new());
        for i in 0..1000 {
            let v = (i as f64) * 0.37 + 0.01;
            if i % 3 == 0 {
                a.insert(v)
            } else {
                b.insert(v)
            }
            all.insert(v);
        }
        a.merge(&b);
        assert_eq!(a.bins(), all.bins());
        assert_eq!(a.count(), all.count());
        assert_eq!(a.quantile(0.99), all.quantile(0.99));
    }

    #[test]
    fn dogsketch_round_trip_splits_large_counts() {
        let mut s = AgentSketch::new();
        s.insert_n(5.0, 70_000);
        s.insert(7.5);
        let d = s.to_dogsketch(1_700_000_000);
        assert_eq!(d.k.len(), 3);
        assert!(d.n.iter().all(|&n| n <= MAX_BIN_COUNT));
        let back = AgentSketch::from_dogsketch(&d).unwrap();
        assert_eq!(back.bins(), s.bins());
        assert_eq!(back.count(), 70_001);
        assert_eq!(back.max(), Some(7.5));
    }

    #[test]
    fn bin_limit_collapses_lowest_keys() {
        let mut s = AgentSketch::new();
        let mut v = 1e-6;
        for _ in 0..6000 {
            s.insert(v);
            v *= 1.02;
        }
        assert!(s.bins().len() <= BIN_LIMIT);
        assert_eq!(s.count(), 6000);
        assert_eq!(s.bins().iter().map(|(_, n)| n).sum::<u64>(), 6000);
    }

    #[test]
    fn rejects_bad_wire_sketches() {
        let bad_len = Dogsketch {
            k: vec![1, 2],
            n: vec![1],
            ..Default::default()
        };
        assert!(AgentSketch::from_dogsketch(&bad_len).is_err());
        let bad_key = Dogsketch {
            k: vec![40_000],
            n: vec![1],
            ..Default::default()
        };
        assert!(AgentSketch::from_dogsketch(&bad_key).is_err());
        let bad_n = Dogsketch {
            k: vec![1],
            n: vec![70_000],
            ..Default::default()
        };
        assert!(AgentSketch::from_dogsketch(&bad_n).is_err());
    }
}
