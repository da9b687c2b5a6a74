//! The matrix as tables, built once and printed three ways (HTML, markdown, terminal), so the
//! three can never disagree.

use contract::results::{Matrix, MatrixRow, RowTable};

use super::format::{NOT_MEASURED, figure, interval, num, times};

/// A table: a header and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One cell: its text everywhere, a detail where there is room (HTML, markdown), a class that
/// colours it in HTML, and a note the HTML shows on hover.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    pub text: String,
    pub detail: Option<String>,
    pub class: Option<&'static str>,
    pub note: Option<String>,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }

    fn class(mut self, class: &'static str) -> Self {
        self.class = Some(class);
        self
    }
}

/// The notes' decision matrix and the rows the measurements add, paper stars → measured
/// stars, with the totals under them.
pub fn decision(m: &Matrix) -> Table {
    let mut header = vec!["Criterion".to_owned(), "Weight".to_owned()];
    header.extend(m.backends.iter().cloned());
    let mut rows: Vec<Vec<Cell>> = m
        .rows
        .iter()
        .filter(|r| r.table != RowTable::Benchmarks)
        .map(|r| {
            let mut cells = vec![Cell::plain(&r.criterion), weight_cell(r)];
            cells.extend(m.backends.iter().map(|b| star_cell(r, b)));
            cells
        })
        .collect();
    let out_of = if m.max_total > 0.0 {
        format!("of {}", num(m.max_total))
    } else {
        "—".to_owned()
    };
    let mut total = vec![Cell::plain("Total (counted rows)"), Cell::plain(out_of)];
    total.extend(m.backends.iter().map(|b| {
        let paper = column_of(m, b).and_then(|c| m.paper.totals_on_counted.get(c));
        let measured = m.totals.get(b);
        let mut cell = Cell::plain(match (paper, measured) {
            (Some(p), Some(t)) => format!("{} → {}", num(*p), num(*t)),
            (None, Some(t)) => num(*t),
            _ => "—".to_owned(),
        });
        if m.leaders.iter().any(|l| l == b) {
            cell = cell.class("lead");
        }
        if let Some(why) = m.not_competing.get(b) {
            cell.note = Some(format!("not in the race: {why}"));
            cell.detail = Some("not in the race".to_owned());
        }
        cell
    }));
    rows.push(total);
    let mut notes_total = vec![
        Cell::plain("The notes' total (their 8 rows)"),
        Cell::plain(format!("of {}", num(m.paper.max_total))),
    ];
    notes_total.extend(m.backends.iter().map(|b| {
        let t = column_of(m, b).and_then(|c| m.paper.totals.get(c));
        Cell::plain(t.map_or("—".to_owned(), |t| num(*t)))
    }));
    rows.push(notes_total);
    Table { header, rows }
}

/// The notes' "Performance Benchmarks (Expected)": paper figure → measured, with the ratio.
pub fn benchmarks(m: &Matrix) -> Table {
    let mut header = vec!["Metric".to_owned()];
    header.extend(m.backends.iter().cloned());
    let rows = m
        .rows
        .iter()
        .filter(|r| r.table == RowTable::Benchmarks)
        .map(|r| {
            let mut cells = vec![Cell::plain(&r.criterion)];
            cells.extend(m.backends.iter().map(|b| figure_cell(r, b)));
            cells
        })
        .collect();
    Table { header, rows }
}

fn column_of<'a>(m: &'a Matrix, backend: &str) -> Option<&'a String> {
    m.paper
        .columns
        .iter()
        .find(|(_, members)| members.iter().any(|x| x == backend))
        .map(|(c, _)| c)
}

fn weight_cell(r: &MatrixRow) -> Cell {
    match r.weight {
        None => Cell::plain("—"),
        Some(w) if r.counted => Cell::plain(num(w)),
        Some(w) => {
            let mut c = Cell::plain(format!("{} (not counted)", num(w)));
            c.note = r.not_counted.clone();
            c
        }
    }
}

fn star_cell(r: &MatrixRow, b: &str) -> Cell {
    let paper = r.paper_stars.get(b).map(|s| format!("{s}★"));
    let measured = r.stars.get(b);
    let text = match (&paper, measured) {
        (Some(p), Some(s)) => format!("{p} → {s}★"),
        (None, Some(s)) => format!("{s}★"),
        (Some(p), None) => format!("{p} → {NOT_MEASURED}"),
        (None, None) => NOT_MEASURED.to_owned(),
    };
    let mut cell = Cell::plain(text);
    cell.detail = r.measured.get(b).map(|v| figure(*v, &r.unit));
    cell.note = r.missing.get(b).cloned();
    cell.class = match (r.paper_stars.get(b), measured) {
        (_, None) => Some("nm"),
        (Some(p), Some(s)) if s > p => Some("up"),
        (Some(p), Some(s)) if s < p => Some("down"),
        _ => None,
    };
    cell
}

fn figure_cell(r: &MatrixRow, b: &str) -> Cell {
    let paper = r.paper.get(b).map_or("—", String::as_str);
    let Some(v) = r.measured.get(b) else {
        let mut cell = Cell::plain(format!("{paper} → {NOT_MEASURED}")).class("nm");
        cell.note = r.missing.get(b).cloned();
        return cell;
    };
    let ratio = r
        .ratio
        .get(b)
        .map_or(String::new(), |x| format!(" ({})", times(*x)));
    let mut cell = Cell::plain(format!("{paper} → {}{ratio}", figure(*v, &r.unit)));
    cell.detail = r
        .ci95
        .get(b)
        .map(|ci| format!("95% CI {}", interval(*ci, &r.unit)));
    if r.off_by_more_than_2x.iter().any(|x| x == b) {
        cell = cell.class("off");
    }
    cell
}
