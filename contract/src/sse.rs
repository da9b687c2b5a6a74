//! Server-sent events: the framing both the UI message stream and the OpenAI stream use.
//!
//! The decoder follows the WHATWG event-stream parsing rules (CR, LF and CRLF line ends,
//! comment lines, `data:` with or without one space, multi-line data) and is incremental: bytes
//! may arrive split anywhere, even inside a UTF-8 character, because it only decodes complete
//! lines.

/// The last frame of every UI message stream and every OpenAI stream.
pub const DONE: &str = "[DONE]";
/// [`DONE`] as a complete frame.
pub const DONE_FRAME: &[u8] = b"data: [DONE]\n\n";

/// Appends one `data:` frame carrying `payload` to `out`. A payload with line breaks becomes one
/// `data:` line per line, which a decoder joins back with `\n`.
pub fn encode_data(payload: &str, out: &mut Vec<u8>) {
    for line in payload.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// One complete frame as it is dispatched by the decoder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The joined `data:` lines.
    pub data: String,
    /// The `id:` field, if the frame carried one.
    pub id: Option<String>,
}

impl SseEvent {
    /// Whether this is the `[DONE]` sentinel that ends OpenAI and AI SDK streams.
    pub fn is_done(&self) -> bool {
        self.data == DONE
    }
}

/// Incremental event-stream decoder: feed it bytes as they arrive and collect complete events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    /// A CR ended the last line; an LF that follows it belongs to the same line break.
    after_cr: bool,
    at_stream_start: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
    id: Option<String>,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self {
            at_stream_start: true,
            ..Self::default()
        }
    }

    /// Feeds one read's worth of bytes and returns every event it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        self.push_with(bytes, |e| events.push(e));
        events
    }

    /// Like [`push`](Self::push), handing each event to `sink` instead of allocating a vector.
    pub fn push_with(&mut self, mut bytes: &[u8], mut sink: impl FnMut(SseEvent)) {
        if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            let line_end = bytes[end];
            if self.pending.is_empty() {
                self.process_line(&bytes[..end], &mut sink);
            } else {
                self.pending.extend_from_slice(&bytes[..end]);
                let line = std::mem::take(&mut self.pending);
                self.process_line(&line, &mut sink);
            }
            bytes = &bytes[end + 1..];
            if line_end == b'\r' {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.pending.extend_from_slice(bytes);
    }

    /// Whether bytes of an unfinished line or frame are buffered: at the end of a stream this
    /// means it was cut off mid-frame.
    pub fn has_partial_frame(&self) -> bool {
        !self.pending.is_empty() || self.has_data
    }

    fn process_line(&mut self, raw: &[u8], sink: &mut impl FnMut(SseEvent)) {
        let mut line = String::from_utf8_lossy(raw);
        if self.at_stream_start {
            self.at_stream_start = false;
            if let Some(rest) = line.strip_prefix('\u{feff}') {
                line = rest.to_owned().into();
            }
        }
        if line.is_empty() {
            self.dispatch(sink);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let value = &line[i + 1..];
                (&line[..i], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (&*line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, sink: &mut impl FnMut(SseEvent)) {
        if !self.has_data {
            self.event = None;
            return;
        }
        self.has_data = false;
        sink(SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        chunks.iter().flat_map(|c| decoder.push(c)).collect()
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            data: s.to_owned(),
            ..SseEvent::default()
        }
    }

    #[test]
    fn several_frames_in_one_read() {
        let events = decode_all(&[b"data: {\"a\":1}\n\ndata: [DONE]\n\n"]);
        assert_eq!(events, vec![data("{\"a\":1}"), data("[DONE]")]);
        assert!(events[1].is_done());
    }

    #[test]
    fn data_without_space_comments_and_crlf() {
        let events = decode_all(&[b": keep-alive\r\ndata:x\r\n\r\nevent: ping\rdata: y\r\r"]);
        assert_eq!(events[0], data("x"));
        assert_eq!(events[1].event.as_deref(), Some("ping"));
        assert_eq!(events[1].data, "y");
    }

    #[test]
    fn crlf_split_between_reads_is_one_line_break() {
        let events = decode_all(&[b"data: a\r", b"\n", b"\r", b"\ndata: b\n\n"]);
        assert_eq!(events, vec![data("a"), data("b")]);
    }

    #[test]
    fn multi_line_data_round_trips_through_the_encoder() {
        let mut out = Vec::new();
        encode_data("line one\nline two", &mut out);
        assert_eq!(decode_all(&[&out]), vec![data("line one\nline two")]);
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let frame = "data: 日本語 👋🏽 é\n\n".as_bytes();
        for cut in 0..frame.len() {
            let events = decode_all(&[&frame[..cut], &frame[cut..]]);
            assert_eq!(events, vec![data("日本語 👋🏽 é")], "cut at byte {cut}");
        }
    }

    #[test]
    fn an_unterminated_frame_is_reported_as_partial() {
        let mut decoder = SseDecoder::new();
        assert!(decoder.push(b"data: {\"half\":").is_empty());
        assert!(decoder.has_partial_frame());
    }

    fn stream_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<String>)> {
        let payload = "[a-z0-9 {}\":,日本👋é]{0,12}";
        let line_end = prop::sample::select(vec!["\n", "\r\n", "\r"]);
        let frame = (payload, line_end, any::<bool>(), any::<bool>());
        prop::collection::vec(frame, 1..8).prop_map(|frames| {
            let mut bytes = Vec::new();
            let mut expected = Vec::new();
            for (payload, eol, space, comment) in frames {
                if comment {
                    bytes.extend_from_slice(format!(":comment{eol}").as_bytes());
                }
                let sep = if space { " " } else { "" };
                bytes.extend_from_slice(format!("data:{sep}{payload}{eol}{eol}").as_bytes());
                // A leading space of the value is part of the field separator when present.
                let value = if space {
                    payload.clone()
                } else {
                    payload.strip_prefix(' ').unwrap_or(&payload).to_owned()
                };
                expected.push(value);
            }
            (bytes, expected)
        })
    }

    proptest! {
        #[test]
        fn every_split_point_yields_the_same_frames((bytes, expected) in stream_strategy()) {
            let whole: Vec<String> = decode_all(&[&bytes]).into_iter().map(|e| e.data).collect();
            prop_assert_eq!(&whole, &expected);
            for cut in 0..=bytes.len() {
                let split: Vec<String> = decode_all(&[&bytes[..cut], &bytes[cut..]])
                    .into_iter().map(|e| e.data).collect();
                prop_assert_eq!(&split, &expected, "split at byte {}", cut);
            }
        }

        #[test]
        fn byte_by_byte_feeding_matches_one_read((bytes, expected) in stream_strategy()) {
            let pieces: Vec<&[u8]> = bytes.chunks(1).collect();
            let got: Vec<String> = decode_all(&pieces).into_iter().map(|e| e.data).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
