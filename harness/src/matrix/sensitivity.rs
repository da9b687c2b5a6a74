//! How firm the winner is: every counted row's weight moved by ±1, and every counted figure
//! with an interval moved to either end of it, one move at a time, the matrix rescored after
//! each (docs/report.md#sensitivity).

use std::collections::BTreeMap;

use contract::results::{Move, Perturbation, Sensitivity, StarChange};

use super::config::MatrixConfig;
use super::score::{Figures, Scored, score};

/// How far one weight moves in the analysis: one step on the notes' scale of whole weights.
const WEIGHT_STEP: f64 = 1.0;

pub fn analyse(
    config: &MatrixConfig,
    figures: &Figures,
    competing: &[String],
    weights: &BTreeMap<String, f64>,
    base: &Scored,
) -> Sensitivity {
    let mut out = Sensitivity::default();
    let mut record = |row: &str, change: Move, moved: Scored| {
        out.moves_tried += 1;
        let p = Perturbation {
            row: row.to_owned(),
            change,
            stars_changed: star_changes(base, &moved),
            leaders: moved.leaders.clone(),
        };
        if moved.leaders != base.leaders {
            out.winner_changes.push(p);
        } else if !p.stars_changed.is_empty() {
            out.star_changes.push(p);
        }
    };
    for row in &base.counted {
        let from = weights[row];
        for to in [from + WEIGHT_STEP, from - WEIGHT_STEP] {
            if to < 0.0 {
                continue;
            }
            let mut moved_weights = weights.clone();
            moved_weights.insert(row.clone(), to);
            let moved = score(config, figures, competing, &moved_weights);
            record(row, Move::Weight { from, to }, moved);
        }
    }
    for row in &base.counted {
        let cells = &figures[row];
        if competing.iter().all(|b| cells[b].ci.is_none()) {
            out.without_interval.push(row.clone());
            continue;
        }
        for backend in competing {
            let figure = cells[backend];
            let Some(ci) = figure.ci else { continue };
            for to in ci {
                if to == figure.value {
                    continue;
                }
                let mut moved_figures = figures.clone();
                if let Some(f) = moved_figures.get_mut(row).and_then(|c| c.get_mut(backend)) {
                    f.value = to;
                }
                let moved = score(config, &moved_figures, competing, weights);
                let change = Move::Value {
                    backend: backend.clone(),
                    from: figure.value,
                    to,
                };
                record(row, change, moved);
            }
        }
    }
    out
}

/// Every star that differs between two scorings.
fn star_changes(base: &Scored, moved: &Scored) -> Vec<StarChange> {
    let mut changes = Vec::new();
    for (row, stars) in &base.stars {
        for (backend, &from) in stars {
            let to = moved.stars.get(row).and_then(|s| s.get(backend)).copied();
            if let Some(to) = to.filter(|&to| to != from) {
                changes.push(StarChange {
                    backend: backend.clone(),
                    from,
                    to,
                });
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::super::metric::Figure;
    use super::super::score::tests::{config, figures};
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    fn weights() -> BTreeMap<String, f64> {
        BTreeMap::from([("lat".into(), 1.0), ("cap".into(), 2.0)])
    }

    #[test]
    fn a_weight_that_decides_the_winner_is_found() {
        let config = config();
        // lat: a 5, b 1; cap (weight 2): a 1 (0.1 of best), b 5. Totals a 7, b 11.
        let figs = figures(&[
            ("lat", &[("a", 90.0), ("b", 500.0)]),
            ("cap", &[("a", 10.0), ("b", 100.0)]),
        ]);
        let competing = names(&["a", "b"]);
        let base = score(&config, &figs, &competing, &weights());
        assert_eq!(base.leaders, names(&["b"]));
        let s = analyse(&config, &figs, &competing, &weights(), &base);
        // lat 1 -> 2: a 12, b 12, a tie; cap 2 -> 1: a 6, b 6, a tie. The other two moves keep b.
        assert_eq!(s.moves_tried, 4);
        let flips: Vec<(&str, &Move)> = s
            .winner_changes
            .iter()
            .map(|p| (p.row.as_str(), &p.change))
            .collect();
        assert_eq!(
            flips,
            [
                ("lat", &Move::Weight { from: 1.0, to: 2.0 }),
                ("cap", &Move::Weight { from: 2.0, to: 1.0 }),
            ]
        );
        assert_eq!(s.winner_changes[0].leaders, names(&["a", "b"]));
        assert_eq!(s.without_interval, names(&["lat", "cap"]));
    }

    #[test]
    fn a_figure_at_the_edge_of_its_interval_can_move_stars_and_the_winner() {
        let config = config();
        let mut figs = figures(&[
            ("lat", &[("a", 190.0), ("b", 210.0)]),
            ("cap", &[("a", 100.0), ("b", 100.0)]),
        ]);
        // a: 4 stars at 190, 3 at the upper end 260; b: 3 at 210, 4 at the lower end 150.
        figs.get_mut("lat").unwrap().insert(
            "a".into(),
            Figure {
                value: 190.0,
                ci: Some([180.0, 260.0]),
            },
        );
        figs.get_mut("lat").unwrap().insert(
            "b".into(),
            Figure {
                value: 210.0,
                ci: Some([150.0, 220.0]),
            },
        );
        let competing = names(&["a", "b"]);
        let base = score(&config, &figs, &competing, &weights());
        assert_eq!(base.leaders, names(&["a"]));
        let s = analyse(&config, &figs, &competing, &weights(), &base);
        let value_flips: Vec<&Move> = s
            .winner_changes
            .iter()
            .filter(|p| matches!(p.change, Move::Value { .. }))
            .map(|p| &p.change)
            .collect();
        assert_eq!(
            value_flips,
            [
                &Move::Value {
                    backend: "a".into(),
                    from: 190.0,
                    to: 260.0
                },
                &Move::Value {
                    backend: "b".into(),
                    from: 210.0,
                    to: 150.0
                },
            ]
        );
        assert_eq!(
            s.winner_changes[s.winner_changes.len() - 1].stars_changed,
            [StarChange {
                backend: "b".into(),
                from: 3,
                to: 4
            }]
        );
        // a at 180 stays at 4 stars and b at 220 stays at 3: no change, so not listed.
        assert!(s.star_changes.is_empty());
        assert_eq!(s.moves_tried, 4 + 4);
    }
}
