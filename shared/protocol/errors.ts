import { CodedError } from '../errors.ts';
/**
 * Errors raised by the LSP/1 codec.
 *
 * Every failure is an `LsError` with a stable `code` (CONVENTIONS.md §4): tests, checks and receivers branch on
 * the code, never on the message text, which is for humans and may change. Where the failure points
 * at a byte of the input, `offset` says which one (absolute position in the stream, counted from 0).
 */

/**
 * Every code the protocol library can raise, keyed by itself (`LS_ERR.LS_ERR_CRC === 'LS_ERR_CRC'`), so a
 * typo is a compile error. A NACK carries one of these as its `code`.
 */
export const LS_ERR = {
  /** The first two bytes of a frame are not "LS" (0x4C 0x53). */
  LS_ERR_MAGIC: 'LS_ERR_MAGIC',
  /** The version byte is not 1. */
  LS_ERR_VERSION: 'LS_ERR_VERSION',
  /** The type byte is not one of HELLO..PONG (or a helper got a frame of the wrong type). */
  LS_ERR_TYPE: 'LS_ERR_TYPE',
  /** A flag bit is set; version 1 defines none. */
  LS_ERR_FLAGS: 'LS_ERR_FLAGS',
  /** The CRC-32 of the payload does not match the header. */
  LS_ERR_CRC: 'LS_ERR_CRC',
  /** A declared payload length, or a decoded size, is over the configured limit. */
  LS_ERR_TOO_LARGE: 'LS_ERR_TOO_LARGE',
  /** The record count is out of range for the frame type, or does not match the payload. */
  LS_ERR_COUNT: 'LS_ERR_COUNT',
  /** Unknown codec id, or a codec other than 0 on a frame that is not a BATCH. */
  LS_ERR_CODEC: 'LS_ERR_CODEC',
  /** A known codec whose implementation is not installed here (e.g. zstd without its package). */
  LS_ERR_CODEC_UNAVAILABLE: 'LS_ERR_CODEC_UNAVAILABLE',
  /** The payload fails to decompress with the codec the header names. */
  LS_ERR_DECODE: 'LS_ERR_DECODE',
  /**
   * A seq that is not a safe JavaScript integer. We keep seqs in plain `number`s (fast, JSON-friendly),
   * so a seq above Number.MAX_SAFE_INTEGER (2^53 - 1) is refused rather than silently rounded.
   */
  LS_ERR_SEQ: 'LS_ERR_SEQ',
  /**
   * A HELLO or NACK payload that is not the JSON object LSP/1 §3 describes; also what the encoders throw
   * for input they cannot put on the wire (a stream id outside u32, a BATCH record holding a LF).
   */
  LS_ERR_PAYLOAD: 'LS_ERR_PAYLOAD',
  /** A text line (LSP/1 §2) longer than the record limit. */
  LS_ERR_LINE_TOO_LONG: 'LS_ERR_LINE_TOO_LONG',
  /**
   * A HELLO or BATCH for a stream that another identity owns (§4, "Who may write a stream"): the first
   * identity to write a stream owns it. Final: a shipper stops instead of retrying.
   */
  LS_ERR_STREAM_OWNED: 'LS_ERR_STREAM_OWNED',
  /** A BATCH on an acknowledged connection before a HELLO for its stream was accepted on that connection. */
  LS_ERR_HELLO_REQUIRED: 'LS_ERR_HELLO_REQUIRED',
} as const;

export type LsErrorCode = (typeof LS_ERR)[keyof typeof LS_ERR];

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(LS_ERR));

/** True when `s` is one of the codes above (useful to vet the code of a NACK from a peer). */
export function isLsErrorCode(s: unknown): s is LsErrorCode {
  return typeof s === 'string' && ALL_CODES.has(s);
}

export class LsError extends CodedError {
  readonly code: LsErrorCode;
  /** Absolute byte offset in the input stream of the offending field, when there is one. */
  readonly offset?: number;

  constructor(code: LsErrorCode, message: string, opts?: { cause?: unknown; offset?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LsError';
    this.code = code;
    if (opts?.offset !== undefined) this.offset = opts.offset;
  }
}

/** True when `e` is an LsError, and (if given) has that code. */
export function isLsError(e: unknown, code?: LsErrorCode): e is LsError {
  return e instanceof LsError && (code === undefined || e.code === code);
}
