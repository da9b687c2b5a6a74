//! The verdict in sentences, generated from the matrix: who won, whether that differs from the
//! notes' choice, which guesses were off by more than 2×, and how firm the winner is. The
//! HTML page, summary.md and the terminal all print these same sentences.

use contract::results::{Matrix, MatrixRow, Move, Perturbation, RowTable};

use super::format::{and_list, figure, num, times};

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub headline: String,
    pub paper: String,
    pub counted: String,
    pub not_competing: Vec<String>,
    pub off_guesses: Vec<String>,
    pub sensitivity: Firmness,
    /// The rows this machine cannot measure, rows that share a reason together.
    pub unmeasurable: Vec<String>,
}

/// The sensitivity analysis in words: a summary, then the moves that change the leaders, the
/// moves that change only stars, and the rows that could not be moved.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Firmness {
    pub summary: String,
    pub winner_changes: Vec<String>,
    pub star_changes: Vec<String>,
    pub unmoved: Option<String>,
}

impl Firmness {
    /// Headed groups of lines, for renderers that nest lists.
    pub fn groups(&self) -> Vec<(&'static str, &[String])> {
        [
            (
                "Moves that change the result:",
                self.winner_changes.as_slice(),
            ),
            (
                "Moves that change stars but not the result:",
                self.star_changes.as_slice(),
            ),
        ]
        .into_iter()
        .filter(|(_, lines)| !lines.is_empty())
        .collect()
    }
}

pub fn verdict(m: &Matrix) -> Verdict {
    Verdict {
        headline: headline(m),
        paper: paper(m),
        counted: counted(m),
        not_competing: m
            .not_competing
            .iter()
            .map(|(b, why)| format!("{b} is not in the totals: {why}."))
            .collect(),
        off_guesses: off_guesses(m),
        sensitivity: sensitivity(m),
        unmeasurable: unmeasurable(m),
    }
}

fn unmeasurable(m: &Matrix) -> Vec<String> {
    let mut groups: Vec<(&str, &str, Vec<String>)> = Vec::new();
    for r in &m.rows {
        let Some(nm) = &r.not_measured else { continue };
        match groups
            .iter_mut()
            .find(|(why, evidence, _)| *why == nm.why && *evidence == nm.evidence)
        {
            Some((_, _, rows)) => rows.push(r.criterion.clone()),
            None => groups.push((&nm.why, &nm.evidence, vec![r.criterion.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(why, evidence, rows)| {
            format!(
                "{}: {why}. What would settle it: {evidence}.",
                and_list(&rows)
            )
        })
        .collect()
}

/// A backend's total as printed; a dash where a hand-edited results.json lacks it.
fn total(m: &Matrix, backend: &str) -> String {
    m.totals.get(backend).map_or("—".to_owned(), |t| num(*t))
}

fn headline(m: &Matrix) -> String {
    let counted = m.rows.iter().filter(|r| r.counted).count();
    let of = format!("of {}", num(m.max_total));
    match (&m.winner, m.leaders.as_slice()) {
        (Some(w), _) => format!(
            "Measured winner: {w}, {} {of} over the {counted} rows measured for every backend \
             in the race.",
            total(m, w)
        ),
        (None, [first, _, ..]) => format!(
            "No single winner: {} tie at {} {of} over {counted} rows.",
            and_list(&m.leaders),
            total(m, first)
        ),
        _ if m.totals.is_empty() && m.not_competing.len() == m.backends.len() => {
            "No winner: no backend of this run is in the race.".to_owned()
        }
        _ => "No winner: no starred row was measured for every backend in the race.".to_owned(),
    }
}

fn paper(m: &Matrix) -> String {
    let p = &m.paper;
    let Some(choice) = &p.winner else {
        return "The notes' matrix has no single winner.".to_owned();
    };
    let members = p.columns.get(choice).cloned().unwrap_or_default();
    let mut s = format!(
        "The notes chose {choice} ({} of {} by their stars), a column that stands for {}",
        num(p.totals.get(choice).copied().unwrap_or_default()),
        num(p.max_total),
        and_list(&members)
    );
    if p.mapping.is_empty() {
        s.push('.');
    } else {
        s.push_str(&format!(" ({}).", p.mapping));
    }
    let misprinted: Vec<String> = p
        .printed_totals
        .iter()
        .filter_map(|(c, printed)| {
            let summed = p.totals.get(c)?;
            (summed != printed).then(|| {
                format!(
                    "{c} {} (their stars sum to {})",
                    num(*printed),
                    num(*summed)
                )
            })
        })
        .collect();
    if !misprinted.is_empty() {
        s.push_str(&format!(
            " The totals they printed do not add up: {}.",
            and_list(&misprinted)
        ));
    }
    match &m.winner {
        Some(w) if members.contains(w) => {
            s.push_str(&format!(
                " The measured winner, {w}, is within that choice."
            ));
        }
        Some(w) => {
            let column = p
                .columns
                .iter()
                .find(|(_, b)| b.contains(w))
                .map_or(w.as_str(), |(c, _)| c.as_str());
            s.push_str(&format!(
                " The measured winner differs: {w} (the notes' {column}) instead of {choice}."
            ));
        }
        None => s.push_str(
            " With no single measured winner, that choice is neither confirmed nor overturned.",
        ),
    }
    if m.rows
        .iter()
        .any(|r| r.counted && !r.paper_stars.is_empty())
    {
        let totals: Vec<String> = p
            .totals_on_counted
            .iter()
            .map(|(c, t)| format!("{c} {}", num(*t)))
            .collect();
        let lead = p
            .winner_on_counted
            .as_deref()
            .map_or("a tie".to_owned(), |w| format!("{w} ahead"));
        s.push_str(&format!(
            " On the counted rows the notes also starred, their own stars give {} ({lead}).",
            and_list(&totals)
        ));
    }
    s
}

fn counted(m: &Matrix) -> String {
    let starred: Vec<&MatrixRow> = m.rows.iter().filter(|r| r.weight.is_some()).collect();
    let counted: Vec<String> = starred
        .iter()
        .filter(|r| r.counted)
        .map(|r| {
            format!(
                "{} (weight {})",
                r.criterion,
                num(r.weight.unwrap_or_default())
            )
        })
        .collect();
    let mut s = if counted.is_empty() {
        "No row counted.".to_owned()
    } else {
        format!("Counted: {}.", and_list(&counted))
    };
    for r in starred.iter().filter(|r| !r.counted) {
        let why = r.not_counted.as_deref().unwrap_or("no figure");
        s.push_str(&format!(" {} is not counted: {why}.", r.criterion));
    }
    let unmeasurable: Vec<String> = m
        .rows
        .iter()
        .filter(|r| r.table == RowTable::Decision && r.not_measured.is_some())
        .map(|r| r.criterion.clone())
        .collect();
    if !unmeasurable.is_empty() {
        s.push_str(&format!(
            " Not measurable on this machine, shown with the notes' stars but not counted: {}.",
            and_list(&unmeasurable)
        ));
    }
    s
}

fn off_guesses(m: &Matrix) -> Vec<String> {
    m.rows
        .iter()
        .flat_map(|r| {
            r.off_by_more_than_2x.iter().map(move |b| {
                let measured = r
                    .measured
                    .get(b)
                    .map_or("?".to_owned(), |v| figure(*v, &r.unit));
                let paper = r.paper.get(b).map_or("?", String::as_str);
                let how = r
                    .ratio
                    .get(b)
                    .map_or("a guess of zero".to_owned(), |x| times(*x));
                format!(
                    "{} of {b}: the notes guessed {paper}, measured {measured} ({how}).",
                    r.criterion
                )
            })
        })
        .collect()
}

fn sensitivity(m: &Matrix) -> Firmness {
    let s = &m.sensitivity;
    let summary = if s.moves_tried == 0 {
        "No move was tried: no row counted.".to_owned()
    } else if s.winner_changes.is_empty() {
        format!(
            "The result holds under all {} single moves (each counted weight ±1, each measured \
             figure to either end of its 95% interval).",
            s.moves_tried
        )
    } else {
        format!(
            "The result changes under {} of {} single moves (each counted weight ±1, each \
             measured figure to either end of its 95% interval).",
            s.winner_changes.len(),
            s.moves_tried
        )
    };
    let unmoved = (!s.without_interval.is_empty()).then(|| {
        let names: Vec<String> = s
            .without_interval
            .iter()
            .map(|id| criterion(m, id))
            .collect();
        format!(
            "Measured once, without an interval, so not moved: {}.",
            and_list(&names)
        )
    });
    Firmness {
        summary,
        winner_changes: s.winner_changes.iter().map(|p| describe(m, p)).collect(),
        star_changes: s.star_changes.iter().map(|p| describe(m, p)).collect(),
        unmoved,
    }
}

fn criterion(m: &Matrix, id: &str) -> String {
    m.rows
        .iter()
        .find(|r| r.id == id)
        .map_or(id.to_owned(), |r| r.criterion.clone())
}

fn describe(m: &Matrix, p: &Perturbation) -> String {
    let row = m.rows.iter().find(|r| r.id == p.row);
    let name = row.map_or(p.row.clone(), |r| r.criterion.clone());
    let unit = row.map_or("", |r| r.unit.as_str());
    let what = match &p.change {
        Move::Weight { from, to } => format!("{name}'s weight {} → {}", num(*from), num(*to)),
        Move::Value { backend, from, to } => {
            let end = if to < from { "lower" } else { "upper" };
            format!(
                "{backend}'s {name} at the {end} end of its interval ({} → {})",
                figure(*from, unit),
                figure(*to, unit)
            )
        }
    };
    let stars: Vec<String> = p
        .stars_changed
        .iter()
        .map(|c| format!("{} {}★ → {}★", c.backend, c.from, c.to))
        .collect();
    let stars = if stars.is_empty() {
        String::new()
    } else {
        format!("; stars {}", stars.join(", "))
    };
    let leaders = match p.leaders.as_slice() {
        [] => "no leader".to_owned(),
        [one] => format!("{one} leads"),
        many => format!("{} tie", and_list(many)),
    };
    format!("{what}{stars}: {leaders}.")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use contract::results::{PaperVerdict, Sensitivity, StarChange};

    use super::*;

    fn row(id: &str, criterion: &str) -> MatrixRow {
        MatrixRow {
            id: id.into(),
            table: RowTable::Decision,
            criterion: criterion.into(),
            unit: "µs".into(),
            metric: None,
            metric_why: None,
            scoring: None,
            paper: BTreeMap::new(),
            paper_stars: BTreeMap::new(),
            measured: BTreeMap::new(),
            ci95: BTreeMap::new(),
            ratio: BTreeMap::new(),
            off_by_more_than_2x: Vec::new(),
            stars: BTreeMap::new(),
            weight: Some(1.0),
            counted: true,
            not_counted: None,
            not_measured: None,
            missing: BTreeMap::new(),
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_tie_and_the_move_that_breaks_it_are_told() {
        let m = Matrix {
            backends: names(&["a", "b"]),
            rows: vec![row("lat", "Latency")],
            totals: BTreeMap::from([("a".into(), 4.0), ("b".into(), 4.0)]),
            max_total: 5.0,
            leaders: names(&["a", "b"]),
            paper: PaperVerdict {
                columns: BTreeMap::from([("A".into(), names(&["a", "b"]))]),
                totals: BTreeMap::from([("A".into(), 35.0)]),
                max_total: 40.0,
                winner: Some("A".into()),
                ..PaperVerdict::default()
            },
            sensitivity: Sensitivity {
                moves_tried: 2,
                winner_changes: vec![Perturbation {
                    row: "lat".into(),
                    change: Move::Value {
                        backend: "a".into(),
                        from: 190.0,
                        to: 260.0,
                    },
                    stars_changed: vec![StarChange {
                        backend: "a".into(),
                        from: 4,
                        to: 3,
                    }],
                    leaders: names(&["b"]),
                }],
                ..Sensitivity::default()
            },
            ..Matrix::default()
        };
        let v = verdict(&m);
        assert_eq!(
            v.headline,
            "No single winner: a and b tie at 4 of 5 over 1 rows."
        );
        assert!(
            v.paper.contains("neither confirmed nor overturned"),
            "{}",
            v.paper
        );
        assert!(
            v.sensitivity
                .summary
                .starts_with("The result changes under 1 of 2")
        );
        assert_eq!(
            v.sensitivity.winner_changes,
            [
                "a's Latency at the upper end of its interval (190 µs → 260 µs); stars a 4★ → 3★: b leads."
            ]
        );
    }

    #[test]
    fn a_winner_outside_the_notes_choice_is_called_a_difference() {
        let mut m = Matrix {
            backends: names(&["a", "b"]),
            totals: BTreeMap::from([("a".into(), 3.0), ("b".into(), 5.0)]),
            max_total: 5.0,
            winner: Some("b".into()),
            leaders: names(&["b"]),
            paper: PaperVerdict {
                columns: BTreeMap::from([("A".into(), names(&["a"])), ("B".into(), names(&["b"]))]),
                totals: BTreeMap::from([("A".into(), 36.0), ("B".into(), 20.0)]),
                printed_totals: BTreeMap::from([("A".into(), 35.0), ("B".into(), 20.0)]),
                max_total: 40.0,
                winner: Some("A".into()),
                ..PaperVerdict::default()
            },
            ..Matrix::default()
        };
        let v = verdict(&m);
        assert!(
            v.paper
                .contains("The measured winner differs: b (the notes' B) instead of A."),
            "{}",
            v.paper
        );
        assert!(
            v.paper.contains("A 35 (their stars sum to 36)"),
            "{}",
            v.paper
        );
        m.winner = Some("a".into());
        assert!(
            verdict(&m)
                .paper
                .contains("The measured winner, a, is within that choice.")
        );
    }
}
