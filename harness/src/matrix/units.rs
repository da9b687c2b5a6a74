//! Units of the matrix's figures, and the notes' figures as they wrote them ("0.7ms",
//! "1-2ms", "5min"), turned into numbers in a row's unit.

/// What a unit measures; figures convert only within one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Time,
    Bytes,
    Ratio,
}

/// Known units and their size in the smallest unit of their dimension (ns, bytes, percent),
/// so that every factor is a whole number and a conversion up is exact. Longest spelling first,
/// so that `ms` is not read as `s`.
const UNITS: [(&str, Dimension, f64); 13] = [
    ("min", Dimension::Time, 60e9),
    ("MiB", Dimension::Bytes, 1_048_576.0),
    ("KiB", Dimension::Bytes, 1024.0),
    ("GiB", Dimension::Bytes, 1_073_741_824.0),
    ("µs", Dimension::Time, 1e3),
    ("us", Dimension::Time, 1e3),
    ("ns", Dimension::Time, 1.0),
    ("ms", Dimension::Time, 1e6),
    ("s", Dimension::Time, 1e9),
    ("h", Dimension::Time, 3600e9),
    ("B", Dimension::Bytes, 1.0),
    ("%", Dimension::Ratio, 1.0),
    ("ratio", Dimension::Ratio, 100.0),
];

fn lookup(unit: &str) -> Option<(Dimension, f64)> {
    UNITS
        .iter()
        .find(|(name, ..)| *name == unit)
        .map(|&(_, d, f)| (d, f))
}

/// The factor that turns a figure in `from` into one in `to`: 1 for the same spelling, the
/// ratio of the two for known units of one dimension, `None` otherwise.
pub fn factor(from: &str, to: &str) -> Option<f64> {
    if from == to {
        return Some(1.0);
    }
    let (dim_from, f_from) = lookup(from)?;
    let (dim_to, f_to) = lookup(to)?;
    (dim_from == dim_to).then_some(f_from / f_to)
}

/// A figure of the notes: one number, or a range `lo-hi`, in a row's unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaperFigure {
    pub lo: f64,
    pub hi: f64,
}

impl PaperFigure {
    /// Reads `text` ("0.7ms", "1-2ms", "200.7-500ms") in the unit `to`; `None` when it is
    /// not a number with a unit convertible to `to` ("Low", "Unix-only").
    pub fn parse(text: &str, to: &str) -> Option<Self> {
        let text = text.trim();
        let (number, unit) = UNITS
            .iter()
            .find_map(|(name, ..)| text.strip_suffix(name).map(|n| (n, *name)))?;
        let f = factor(unit, to)?;
        let (lo, hi) = match number.split_once(['-', '–']) {
            Some((lo, hi)) => (
                lo.trim().parse::<f64>().ok()?,
                hi.trim().parse::<f64>().ok()?,
            ),
            None => {
                let v = number.trim().parse::<f64>().ok()?;
                (v, v)
            }
        };
        (lo.is_finite() && hi.is_finite() && lo <= hi).then_some(Self {
            lo: lo * f,
            hi: hi * f,
        })
    }

    /// Measured ÷ this figure: to the nearer end of a range, 1 inside it; `None` for a guess
    /// of zero, which no ratio can express.
    pub fn ratio(&self, measured: f64) -> Option<f64> {
        if self.hi <= 0.0 {
            None
        } else if measured < self.lo {
            Some(measured / self.lo)
        } else if measured > self.hi {
            Some(measured / self.hi)
        } else {
            Some(1.0)
        }
    }

    /// Whether `measured` is off this guess by more than `factor`, either way. A guess of zero
    /// is off when the figure is surely above zero: the lower end of its interval, or the
    /// figure itself when it has none.
    pub fn off_by_more_than(&self, measured: f64, ci: Option<[f64; 2]>, factor: f64) -> bool {
        match self.ratio(measured) {
            Some(r) => r > factor || r < 1.0 / factor,
            None => ci.map_or(measured, |[lo, _]| lo) > 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_notes_figures_in_a_rows_unit() {
        let p = |t, u| PaperFigure::parse(t, u);
        assert_eq!(
            p("0.7ms", "µs"),
            Some(PaperFigure {
                lo: 700.0,
                hi: 700.0
            })
        );
        assert_eq!(
            p("1-2ms", "µs"),
            Some(PaperFigure {
                lo: 1000.0,
                hi: 2000.0
            })
        );
        assert_eq!(
            p("5min", "s"),
            Some(PaperFigure {
                lo: 300.0,
                hi: 300.0
            })
        );
        assert_eq!(p("30s", "s"), Some(PaperFigure { lo: 30.0, hi: 30.0 }));
        let total = p("200.7-500ms", "ms").unwrap();
        assert_eq!((total.lo, total.hi), (200.7, 500.0));
        assert_eq!(p("0.14%", "%"), Some(PaperFigure { lo: 0.14, hi: 0.14 }));
        assert_eq!(p("Low", "µs"), None);
        assert_eq!(p("Unix-only", ""), None);
        assert_eq!(p("2-1ms", "ms"), None, "a range must run upwards");
        assert_eq!(p("30s", "MiB"), None, "no conversion across dimensions");
    }

    #[test]
    fn ratios_run_to_the_nearer_end_of_a_range() {
        let range = PaperFigure {
            lo: 1000.0,
            hi: 2000.0,
        };
        assert_eq!(range.ratio(500.0), Some(0.5));
        assert_eq!(range.ratio(1500.0), Some(1.0));
        assert_eq!(range.ratio(5000.0), Some(2.5));
        assert!(range.off_by_more_than(5000.0, None, 2.0));
        assert!(!range.off_by_more_than(3900.0, None, 2.0));
        assert!(range.off_by_more_than(400.0, None, 2.0));
        let zero = PaperFigure { lo: 0.0, hi: 0.0 };
        assert_eq!(zero.ratio(10.0), None);
        assert!(zero.off_by_more_than(10.0, Some([2.0, 18.0]), 2.0));
        assert!(
            !zero.off_by_more_than(10.0, Some([-3.0, 18.0]), 2.0),
            "an interval reaching zero does not contradict a guess of zero"
        );
    }

    #[test]
    fn converts_within_a_dimension_only() {
        assert_eq!(factor("µs", "ms"), Some(0.001));
        assert_eq!(factor("B", "MiB"), Some(1.0 / 1_048_576.0));
        assert_eq!(factor("ratio", "%"), Some(100.0));
        assert_eq!(factor("faults", "faults"), Some(1.0));
        assert_eq!(factor("s", "B"), None);
        assert_eq!(factor("faults", "s"), None);
    }
}
