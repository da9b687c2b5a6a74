//! Deterministic answer text: two runs of a scenario produce the same bytes, every piece is
//! non-empty, and every piece is distinct (numbered), so a lost, repeated or reordered chunk is
//! visible in the final text.

const WORDS: &[&str] = &[
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];

/// Scripts that a byte-exact path must carry unchanged: CJK, Hangul, emoji with skin-tone
/// modifiers, ZWJ sequences and flags, combining marks (decomposed, never normalised), RTL.
const UNICODE_SAMPLES: &[&str] = &[
    "漢字かな交じり文",
    "한국어",
    "👋🏽",
    "👩‍👩‍👧‍👦",
    "🇯🇵🇺🇦",
    "e\u{301}te\u{301}",
    "n\u{303}and\u{fa}",
    "Z\u{351}\u{352}a\u{308}\u{304}",
    "Ωμέγα",
    "עברית",
    "العربية",
    "∑∫√∞",
];

/// `n` numbered words: `alpha0 bravo1 ... `.
pub fn words(n: u32) -> Vec<String> {
    (0..n).map(word).collect()
}

fn word(k: u32) -> String {
    format!("{}{k} ", WORDS[k as usize % WORDS.len()])
}

/// `n` numbered pieces cycling through [`UNICODE_SAMPLES`].
pub fn unicode(n: u32) -> Vec<String> {
    (0..n)
        .map(|k| {
            format!(
                "{k}:{} ",
                UNICODE_SAMPLES[k as usize % UNICODE_SAMPLES.len()]
            )
        })
        .collect()
}

/// An answer of `n` pieces whose first piece is `quote` (whole, so it cannot be split by a
/// chunk boundary), followed by numbered words.
pub fn answer(quote: &str, n: u32) -> Vec<String> {
    let mut pieces = Vec::with_capacity(n as usize);
    pieces.push(format!("{quote} "));
    pieces.extend((1..n).map(word));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_are_deterministic_non_empty_and_distinct() {
        for pieces in [words(50), unicode(50), answer("q", 50)] {
            assert_eq!(pieces.len(), 50);
            assert!(pieces.iter().all(|p| !p.is_empty()));
            let mut unique = pieces.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), 50);
        }
        assert_eq!(words(3), words(3));
        assert_eq!(words(2).concat(), "alpha0 bravo1 ");
        assert!(unicode(12).concat().contains("e\u{301}"));
        assert_eq!(answer("quoted", 1), vec!["quoted ".to_owned()]);
    }
}
