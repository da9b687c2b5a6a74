// The `frames` wire's codec (contract::frames, docs/frames.md): a 9-byte header (kind u8,
// stream u32 BE, length u32 BE), then the payload. The constants come from the contract, so the
// layout is written once, in Rust; both sides test against contract/tests/fixtures/frames/.

import { FRAME_HEADER_LEN, FRAME_KIND, FRAME_MAX_PAYLOAD } from '../../../contract/js/contract.mjs';

const KIND_NAMES = new Map(Object.entries(FRAME_KIND).map(([name, byte]) => [byte, name]));

/** A frame that ends its stream (never the connection): contract::frames::FrameError. */
export class FrameError extends Error {
  /** @param {string} message @param {number | undefined} stream */
  constructor(message, stream) {
    super(message);
    this.name = 'FrameError';
    this.stream = stream;
  }
}

/**
 * One frame as bytes. `payload` is a Buffer or a string (written as UTF-8).
 * @returns {Buffer}
 */
export function encodeFrame(kind, stream, payload = '') {
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (length > FRAME_MAX_PAYLOAD) {
    throw new FrameError(`a frame of ${length} bytes on stream ${stream} is over the ${FRAME_MAX_PAYLOAD}-byte limit`, stream);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_LEN + length);
  frame[0] = kind;
  frame.writeUInt32BE(stream, 1);
  frame.writeUInt32BE(length, 5);
  if (typeof payload === 'string') frame.write(payload, FRAME_HEADER_LEN, 'utf8');
  else frame.set(payload, FRAME_HEADER_LEN);
  return frame;
}

/** The name of a kind byte (`open`, `chunk`, ...), or undefined. */
export function kindName(byte) {
  return KIND_NAMES.get(byte);
}

/**
 * The incremental decoder, as contract::frames::FrameDecoder: bytes in as they arrive, whole
 * frames out. A refused frame (unknown kind, oversized) yields a FrameError naming its stream
 * and its payload is skipped, so the frames after it still decode.
 */
export class FrameDecoder {
  #buf = Buffer.alloc(0);
  #skipping = 0;

  /** @param {Buffer} bytes */
  push(bytes) {
    if (this.#skipping > 0) {
      const skip = Math.min(this.#skipping, bytes.length);
      this.#skipping -= skip;
      bytes = bytes.subarray(skip);
    }
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
  }

  /** @returns {{kind: number, stream: number, payload: Buffer} | FrameError | undefined} */
  next() {
    const buf = this.#buf;
    if (buf.length < FRAME_HEADER_LEN) return undefined;
    const kind = buf[0];
    const stream = buf.readUInt32BE(1);
    const length = buf.readUInt32BE(5);
    let refusal;
    if (length > FRAME_MAX_PAYLOAD) {
      refusal = new FrameError(`a frame of ${length} bytes on stream ${stream} is over the ${FRAME_MAX_PAYLOAD}-byte limit`, stream);
    } else if (!KIND_NAMES.has(kind)) {
      refusal = new FrameError(`a frame of unknown kind ${kind} on stream ${stream}`, stream);
    }
    if (refusal) {
      const here = Math.min(buf.length - FRAME_HEADER_LEN, length);
      this.#buf = buf.subarray(FRAME_HEADER_LEN + here);
      this.#skipping = length - here;
      return refusal;
    }
    if (buf.length < FRAME_HEADER_LEN + length) return undefined;
    const payload = buf.subarray(FRAME_HEADER_LEN, FRAME_HEADER_LEN + length);
    this.#buf = buf.subarray(FRAME_HEADER_LEN + length);
    return { kind, stream, payload };
  }

  /** The connection ended: a FrameError if it ended inside a frame. */
  finish() {
    if (this.#buf.length === 0 || this.#skipping > 0) return undefined;
    const stream = this.#buf.length >= 5 ? this.#buf.readUInt32BE(1) : undefined;
    return new FrameError(`the connection ended inside a frame (${this.#buf.length} bytes)`, stream);
  }
}
