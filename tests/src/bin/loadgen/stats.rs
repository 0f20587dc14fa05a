//! Latency percentiles over every delivery of the measurement window.

use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// Percentiles in milliseconds of samples in microseconds.
pub fn summarize(mut micros: Vec<u32>) -> Summary {
    if micros.is_empty() {
        return Summary::default();
    }
    micros.sort_unstable();
    let n = micros.len();
    let at = |q: f64| {
        let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
        round3(micros[i] as f64 / 1000.0)
    };
    let sum: u64 = micros.iter().map(|&v| v as u64).sum();
    Summary {
        n,
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        p999: at(0.999),
        max: round3(micros[n - 1] as f64 / 1000.0),
        mean: round3(sum as f64 / n as f64 / 1000.0),
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = summarize((1..=100).map(|v| v * 1000).collect());
        assert_eq!(s.p50, 50.0);
        assert_eq!(s.p99, 99.0);
        assert_eq!(s.max, 100.0);
        assert_eq!(summarize(Vec::new()).n, 0);
    }
}
