//! The `frames` wire against the bytes the JavaScript codec is tested with
//! (`backends/sidecar/test/frames.test.mjs` reads the same two files): both sides agree on
//! every byte of the shared cases, so neither can drift alone.

use std::path::Path;

use contract::frames::{self, Frame, FrameDecoder, Kind};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/frames")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn cases() -> Vec<Frame> {
    let cases: Vec<Value> = serde_json::from_slice(&fixture("cases.json")).expect("cases.json");
    cases
        .iter()
        .map(|c| {
            let kind = Kind::ALL
                .into_iter()
                .find(|k| c["kind"] == k.name())
                .expect("a known kind");
            let payload = match kind {
                Kind::Credit => {
                    let credit = c["credit"].as_u64().expect("credit") as u32;
                    credit.to_be_bytes().to_vec()
                }
                _ => c["payload"].as_str().expect("payload").as_bytes().to_vec(),
            };
            Frame {
                kind,
                stream: c["stream"].as_u64().expect("stream") as u32,
                payload,
            }
        })
        .collect()
}

#[test]
fn the_shared_cases_encode_to_the_shared_bytes() {
    let mut out = Vec::new();
    for f in cases() {
        frames::encode(f.kind, f.stream, &f.payload, &mut out).expect("encodes");
    }
    assert_eq!(out, fixture("cases.bin"));
}

#[test]
fn the_shared_bytes_decode_to_the_shared_cases_at_every_split() {
    let bytes = fixture("cases.bin");
    let expected = cases();
    for cut in 0..=bytes.len() {
        let mut decoder = FrameDecoder::new();
        let mut decoded = Vec::new();
        for piece in [&bytes[..cut], &bytes[cut..]] {
            decoder.push(piece);
            while let Some(frame) = decoder.next_frame() {
                decoded.push(frame.expect("valid"));
            }
        }
        assert_eq!(decoder.finish(), Ok(()));
        assert_eq!(decoded, expected, "split at {cut}");
    }
}
