//! Stars, totals and leaders from a set of figures: one pure function, so the sensitivity
//! analysis can call it again with one weight or one figure moved.

use std::collections::BTreeMap;

use super::config::{Direction, MatrixConfig, Relative, StarsConfig};
use super::metric::Figure;

/// Row id -> backend -> figure.
pub type Figures = BTreeMap<String, BTreeMap<String, Figure>>;

/// Totals closer than this are a tie: weights are small whole or half numbers, so a real
/// difference is never smaller.
const TIE: f64 = 1e-9;

/// What [`score`] computed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// Row id -> backend -> stars.
    pub stars: BTreeMap<String, BTreeMap<String, u8>>,
    /// Starred rows that entered the totals, in config order.
    pub counted: Vec<String>,
    /// Starred rows left out of the totals, and why.
    pub not_counted: BTreeMap<String, String>,
    pub totals: BTreeMap<String, f64>,
    pub max_total: f64,
    pub leaders: Vec<String>,
}

/// Scores `figures`: every starred row gets stars for each backend that has a figure; a row
/// counts when its weight is above 0 and every competing backend has stars on it.
pub fn score(
    config: &MatrixConfig,
    figures: &Figures,
    competing: &[String],
    weights: &BTreeMap<String, f64>,
) -> Scored {
    let mut scored = Scored::default();
    for row in &config.rows {
        let Some(stars_config) = &row.stars else {
            continue;
        };
        let row_figures = figures.get(&row.id).cloned().unwrap_or_default();
        let stars = match stars_for_row(stars_config, &row_figures, competing) {
            Ok(stars) => stars,
            Err(why) => {
                scored.not_counted.insert(row.id.clone(), why);
                continue;
            }
        };
        let weight = weights.get(&row.id).copied().unwrap_or(stars_config.weight);
        let lacking: Vec<&str> = competing
            .iter()
            .filter(|b| !stars.contains_key(*b))
            .map(String::as_str)
            .collect();
        let why_not = if competing.is_empty() {
            Some("no backend competes".to_owned())
        } else if weight <= 0.0 {
            Some("its weight is 0".to_owned())
        } else if !lacking.is_empty() {
            Some(format!("no figure for {}", lacking.join(", ")))
        } else {
            None
        };
        match why_not {
            Some(why) => {
                scored.not_counted.insert(row.id.clone(), why);
            }
            None => {
                for b in competing {
                    *scored.totals.entry(b.clone()).or_default() += weight * f64::from(stars[b]);
                }
                scored.max_total += weight * f64::from(super::config::MAX_STARS);
                scored.counted.push(row.id.clone());
            }
        }
        scored.stars.insert(row.id.clone(), stars);
    }
    scored.leaders = leaders(&scored.totals);
    scored
}

/// The names with the highest total (several on a tie; none without totals).
pub fn leaders(totals: &BTreeMap<String, f64>) -> Vec<String> {
    let best = totals.values().copied().fold(f64::NEG_INFINITY, f64::max);
    totals
        .iter()
        .filter(|(_, t)| best - **t <= TIE)
        .map(|(name, _)| name.clone())
        .collect()
}

fn stars_for_row(
    config: &StarsConfig,
    figures: &BTreeMap<String, Figure>,
    competing: &[String],
) -> Result<BTreeMap<String, u8>, String> {
    let divisor = match config.relative {
        Relative::Absolute => 1.0,
        Relative::ToBest => {
            let contenders: Vec<f64> = competing
                .iter()
                .filter_map(|b| figures.get(b).map(|f| f.value))
                .collect();
            let pool: Vec<f64> = if contenders.is_empty() {
                figures.values().map(|f| f.value).collect()
            } else {
                contenders
            };
            let best = match config.direction {
                Direction::Lower => pool.iter().copied().fold(f64::INFINITY, f64::min),
                Direction::Higher => pool.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            if pool.is_empty() {
                return Ok(BTreeMap::new());
            }
            if best <= 0.0 {
                return Err(format!(
                    "the best figure is {best}, so multiples of it mean nothing"
                ));
            }
            best
        }
    };
    Ok(figures
        .iter()
        .map(|(b, f)| (b.clone(), config.stars_for(f.value / divisor)))
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    pub(crate) use super::super::config::tests::config;
    use super::*;

    pub(crate) fn figures(rows: &[(&str, &[(&str, f64)])]) -> Figures {
        rows.iter()
            .map(|(row, cells)| {
                let cells = cells
                    .iter()
                    .map(|(b, v)| {
                        (
                            (*b).to_owned(),
                            Figure {
                                value: *v,
                                ci: None,
                            },
                        )
                    })
                    .collect();
                ((*row).to_owned(), cells)
            })
            .collect()
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn totals_weigh_stars_and_the_best_total_leads() {
        let config = config();
        let figs = figures(&[
            ("lat", &[("a", 90.0), ("b", 250.0), ("c", 500.0)]),
            ("cap", &[("a", 10.0), ("b", 50.0), ("c", 100.0)]),
        ]);
        let s = score(&config, &figs, &names(&["a", "b", "c"]), &BTreeMap::new());
        assert_eq!(
            s.stars["lat"],
            BTreeMap::from([("a".into(), 5), ("b".into(), 3), ("c".into(), 1)])
        );
        // cap relative to the best (100): 0.1 -> 1, 0.5 -> 3, 1.0 -> 5; weight 2.
        assert_eq!(s.stars["cap"]["b"], 3);
        assert_eq!(
            s.totals,
            BTreeMap::from([("a".into(), 7.0), ("b".into(), 9.0), ("c".into(), 11.0)])
        );
        assert_eq!(s.max_total, 15.0);
        assert_eq!(s.leaders, names(&["c"]));
        assert_eq!(s.counted, names(&["lat", "cap"]));
    }

    #[test]
    fn a_row_counts_only_when_every_competitor_has_a_figure() {
        let config = config();
        let figs = figures(&[
            ("lat", &[("a", 90.0), ("b", 250.0)]),
            ("cap", &[("a", 10.0), ("b", 50.0), ("c", 100.0)]),
        ]);
        let s = score(&config, &figs, &names(&["a", "b", "c"]), &BTreeMap::new());
        assert_eq!(s.counted, names(&["cap"]));
        assert_eq!(s.not_counted["lat"], "no figure for c");
        assert_eq!(
            s.stars["lat"]["a"], 5,
            "stars are still shown where measured"
        );
        // Without c competing, lat counts, and cap's best is b's 50 (c's 100 is not a contender).
        let s = score(&config, &figs, &names(&["a", "b"]), &BTreeMap::new());
        assert_eq!(s.counted, names(&["lat", "cap"]));
        assert_eq!(s.stars["cap"]["b"], 5);
        assert_eq!(s.stars["cap"]["a"], 2);
        assert!(!s.totals.contains_key("c"));
    }

    #[test]
    fn ties_weight_zero_and_nothing_to_compare() {
        let config = config();
        let figs = figures(&[("lat", &[("a", 90.0), ("b", 95.0), ("c", 99.0)])]);
        let all = names(&["a", "b", "c"]);
        let s = score(&config, &figs, &all, &BTreeMap::new());
        assert_eq!(s.leaders, all, "a three-way tie has no single winner");
        let s = score(&config, &figs, &all, &BTreeMap::from([("lat".into(), 0.0)]));
        assert!(s.counted.is_empty());
        assert_eq!(s.not_counted["lat"], "its weight is 0");
        assert!(s.leaders.is_empty() && s.totals.is_empty());
        let s = score(&config, &figs, &[], &BTreeMap::new());
        assert!(s.leaders.is_empty());
        let zero = figures(&[("cap", &[("a", 0.0), ("b", 0.0)])]);
        let s = score(&config, &zero, &all, &BTreeMap::new());
        assert!(
            s.not_counted["cap"].contains("best figure is 0"),
            "{:?}",
            s.not_counted
        );
    }
}
