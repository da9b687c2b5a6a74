use proptest::prelude::*;

use super::*;

fn frame(kind: Kind, stream: u32, payload: &[u8]) -> Frame {
    Frame {
        kind,
        stream,
        payload: payload.to_vec(),
    }
}

fn encoded(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        encode(f.kind, f.stream, &f.payload, &mut out).expect("under the limit");
    }
    out
}

/// Feeds `bytes` in pieces cut at `cuts` and collects every result.
fn decode_in_pieces(bytes: &[u8], cuts: &[usize]) -> Vec<Result<Frame, FrameError>> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut from = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    for to in cuts {
        decoder.push(&bytes[from..to]);
        from = to;
        while let Some(result) = decoder.next_frame() {
            out.push(result);
        }
    }
    assert_eq!(
        decoder.finish(),
        Ok(()),
        "whole frames leave nothing behind"
    );
    out
}

fn any_frame() -> impl Strategy<Value = Frame> {
    (
        proptest::sample::select(Kind::ALL.to_vec()),
        any::<u32>(),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(kind, stream, payload)| Frame {
            kind,
            stream,
            payload,
        })
}

proptest! {
    #[test]
    fn frames_come_out_whole_however_the_reads_split_or_merge_them(
        frames in proptest::collection::vec(any_frame(), 0..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let bytes = encoded(&frames);
        let decoded: Vec<Frame> = decode_in_pieces(&bytes, &cuts)
            .into_iter()
            .map(|r| r.expect("only valid frames were sent"))
            .collect();
        prop_assert_eq!(decoded, frames);
    }

    #[test]
    fn a_refused_frame_ends_only_its_own_stream(
        before in proptest::collection::vec(any_frame(), 0..4),
        after in proptest::collection::vec(any_frame(), 0..4),
        bad_stream in any::<u32>(),
        bad_kind in 7u8..,
        junk in proptest::collection::vec(any::<u8>(), 0..100),
        cuts in proptest::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut bytes = encoded(&before);
        bytes.push(bad_kind);
        bytes.extend_from_slice(&bad_stream.to_be_bytes());
        bytes.extend_from_slice(&(junk.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&junk);
        bytes.extend_from_slice(&encoded(&after));
        let results = decode_in_pieces(&bytes, &cuts);
        let mut expected: Vec<Result<Frame, FrameError>> = before.into_iter().map(Ok).collect();
        expected.push(Err(FrameError::BadKind { stream: bad_stream, kind: bad_kind }));
        expected.extend(after.into_iter().map(Ok));
        prop_assert_eq!(results, expected);
    }
}

#[test]
fn an_oversized_frame_is_skipped_without_being_held_and_the_next_one_decodes() {
    let len = MAX_PAYLOAD + 1;
    let mut decoder = FrameDecoder::new();
    let mut header = vec![Kind::Chunk as u8];
    header.extend_from_slice(&7u32.to_be_bytes());
    header.extend_from_slice(&(len as u32).to_be_bytes());
    decoder.push(&header);
    assert_eq!(
        decoder.next_frame(),
        Some(Err(FrameError::Oversized { stream: 7, len }))
    );
    let piece = vec![0u8; 1024 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = piece.len().min(len - sent);
        decoder.push(&piece[..n]);
        sent += n;
        assert_eq!(decoder.next_frame(), None);
        assert!(
            decoder.buf.len() <= HEADER_LEN,
            "skipped bytes are not kept"
        );
    }
    decoder.push(&encoded(&[frame(Kind::End, 8, b"")]));
    assert_eq!(decoder.next_frame(), Some(Ok(frame(Kind::End, 8, b""))));
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn the_encoder_refuses_an_oversized_payload() {
    let mut out = Vec::new();
    let payload = vec![b'x'; MAX_PAYLOAD + 1];
    assert_eq!(
        encode(Kind::Chunk, 3, &payload, &mut out),
        Err(FrameError::Oversized {
            stream: 3,
            len: MAX_PAYLOAD + 1
        })
    );
    assert!(out.is_empty());
    assert!(encode(Kind::Chunk, 3, &payload[..MAX_PAYLOAD], &mut out).is_ok());
}

#[test]
fn a_connection_ending_inside_a_frame_names_the_stream_when_it_can() {
    let bytes = encoded(&[frame(Kind::Chunk, 5, b"{\"type\":\"start\"}")]);
    let mut decoder = FrameDecoder::new();
    decoder.push(&bytes[..bytes.len() - 1]);
    assert_eq!(decoder.next_frame(), None);
    assert_eq!(
        decoder.finish(),
        Err(FrameError::Truncated {
            stream: Some(5),
            have: bytes.len() - 1,
            need: bytes.len()
        })
    );
    let mut decoder = FrameDecoder::new();
    decoder.push(&bytes[..3]);
    assert_eq!(
        decoder.finish(),
        Err(FrameError::Truncated {
            stream: None,
            have: 3,
            need: HEADER_LEN
        })
    );
}

#[test]
fn a_credit_frame_carries_one_count() {
    let mut out = Vec::new();
    encode_credit(9, 40, &mut out);
    let mut decoder = FrameDecoder::new();
    decoder.push(&out);
    let credit = decoder.next_frame().expect("a frame").expect("valid");
    assert_eq!(
        (credit.kind, credit.stream, credit.credit()),
        (Kind::Credit, 9, Some(40))
    );
    assert_eq!(frame(Kind::Credit, 9, b"abc").credit(), None);
}

#[test]
fn every_kind_round_trips_through_its_byte() {
    for kind in Kind::ALL {
        assert_eq!(Kind::from_byte(kind as u8), Some(kind));
    }
    assert_eq!(Kind::from_byte(0), None);
    assert_eq!(Kind::from_byte(7), None);
}
