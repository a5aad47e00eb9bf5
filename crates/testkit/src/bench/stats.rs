//! Summaries of benchmark samples: median, p99 and spread (interquartile range, min, max).

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub p25: f64,
    pub p75: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Nearest-rank percentile of sorted values.
fn rank(sorted: &[f64], p: f64) -> f64 {
    let r = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[r.clamp(1, sorted.len()) - 1]
}

impl Stats {
    pub fn of(values: &[f64]) -> Option<Stats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Stats {
            n: v.len(),
            p50: rank(&v, 50.0),
            p99: rank(&v, 99.0),
            p25: rank(&v, 25.0),
            p75: rank(&v, 75.0),
            min: v[0],
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        })
    }

    /// Interquartile range relative to the median, in percent.
    pub fn iqr_pct(&self) -> f64 {
        if self.p50 == 0.0 {
            f64::NAN
        } else {
            (self.p75 - self.p25) / self.p50 * 100.0
        }
    }

    pub fn json(&self, unit: &str) -> Value {
        json!({
            "unit": unit, "n": self.n, "p50": self.p50, "p99": self.p99, "p25": self.p25,
            "p75": self.p75, "min": self.min, "max": self.max, "mean": self.mean,
            "iqr_pct_of_median": self.iqr_pct(),
        })
    }
}

pub fn stats_json(values: &[f64], unit: &str) -> Value {
    Stats::of(values).map_or(Value::Null, |s| s.json(unit))
}

/// A number for a table cell: 3 significant digits, no exponent for ordinary sizes.
pub fn fmt(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else if a >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.2e}")
    }
}

/// `p50 / p99 (IQR ±x%)` of a stats JSON object.
pub fn cell(stats: &Value) -> String {
    match (
        stats.get("p50").and_then(Value::as_f64),
        stats.get("p99").and_then(Value::as_f64),
    ) {
        (Some(p50), Some(p99)) => {
            let iqr = stats
                .get("iqr_pct_of_median")
                .and_then(Value::as_f64)
                .or_else(|| {
                    let q = |k: &str| stats.get(k).and_then(Value::as_f64);
                    Some((q("p75")? - q("p25")?) / p50 * 100.0)
                })
                .unwrap_or(f64::NAN);
            format!("{} / {} (IQR {}%)", fmt(p50), fmt(p99), fmt(iqr))
        }
        _ => "not measured".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = Stats::of(&v).unwrap();
        assert_eq!((s.p50, s.p99, s.p25, s.p75), (50.0, 99.0, 25.0, 75.0));
        assert_eq!((s.min, s.max, s.n), (1.0, 100.0, 100));
        let one = Stats::of(&[7.0]).unwrap();
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert!(Stats::of(&[f64::NAN]).is_none());
    }
}
