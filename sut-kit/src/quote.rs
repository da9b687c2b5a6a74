//! How a reason quotes what a system under test sent: short enough to read in a line. Its own
//! module because the stream reader (`checker`), the final message's comparison (`message`) and
//! the suites all quote, and none of them should import another only for this.

/// A payload short enough to quote in a reason.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
