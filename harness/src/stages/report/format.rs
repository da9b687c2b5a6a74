//! Numbers as the report prints them: a few significant digits, the unit after, and words
//! for what is absent.

/// What a cell says when a run holds no figure for it.
pub const NOT_MEASURED: &str = "not measured";

/// `v` with about three significant digits and no exponent: 0.0123, 1.23, 12.3, 123, 12,345.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let text = if a == 0.0 {
        "0".to_owned()
    } else if a >= 100.0 {
        group_thousands(v.round())
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        let decimals = (-a.log10().floor()) as usize + 2;
        format!("{v:.decimals$}")
    };
    trim_zeros(text)
}

/// `v` followed by its unit ("85.2 µs", "0.05%", "212 s"); a percent sign sits close.
pub fn figure(v: f64, unit: &str) -> String {
    match unit {
        "" => num(v),
        "%" => format!("{}%", num(v)),
        _ => format!("{} {unit}", num(v)),
    }
}

/// A 95% interval, "70–90 µs".
pub fn interval([lo, hi]: [f64; 2], unit: &str) -> String {
    figure(hi, unit).replacen(&num(hi), &format!("{}–{}", num(lo), num(hi)), 1)
}

/// A ratio as a multiple, "0.11×".
pub fn times(r: f64) -> String {
    format!("{}×", num(r))
}

/// Names joined for a sentence: "a", "a and b", "a, b and c".
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn group_thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') && !text.contains(',') {
        let t = text.trim_end_matches('0').trim_end_matches('.');
        if t == "-0" {
            "0".to_owned()
        } else {
            t.to_owned()
        }
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_three_significant_digits() {
        let got: Vec<String> = [
            0.0, 0.01234, 0.5, 1.234, 12.34, 123.4, 200_350.0, -1500.0, 2.0,
        ]
        .iter()
        .map(|&v| num(v))
        .collect();
        assert_eq!(
            got,
            [
                "0", "0.0123", "0.5", "1.23", "12.3", "123", "200,350", "-1,500", "2"
            ]
        );
        assert_eq!(figure(0.07, "%"), "0.07%");
        assert_eq!(figure(85.26, "µs"), "85.3 µs");
        assert_eq!(interval([70.0, 90.0], "µs"), "70–90 µs");
        assert_eq!(interval([0.5, 1.5], "%"), "0.5–1.5%");
        assert_eq!(
            and_list(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
