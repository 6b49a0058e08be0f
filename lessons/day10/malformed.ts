/**
 * Day 10 — why a datagram is malformed: the reasons `udp.malformed` and the rejects table count
 * (README, d10.5). One list, so the dashboard's /metrics can start every one of them at 0 (shared/
 * cannot import a lesson: tests/metrics-reasons.test.ts holds shared/dashboard/metrics.ts's copy equal
 * to this one at compile time).
 */

/** The frame decoder's error codes (shared/protocol/errors.ts), as the reasons the receiver counts. */
export const REASON_OF_CODE = {
  LS_ERR_MAGIC: 'bad_magic',
  LS_ERR_VERSION: 'bad_version',
  LS_ERR_TYPE: 'bad_type',
  LS_ERR_FLAGS: 'bad_flags',
  LS_ERR_CRC: 'bad_crc',
  LS_ERR_TOO_LARGE: 'too_large',
  LS_ERR_COUNT: 'bad_count',
  LS_ERR_CODEC: 'bad_codec',
  LS_ERR_CODEC_UNAVAILABLE: 'codec_unavailable',
  LS_ERR_DECODE: 'bad_payload',
  LS_ERR_SEQ: 'bad_seq',
} as const;

/** Every reason a day 10 receiver counts a datagram as malformed for. */
export const MALFORMED_REASONS = [
  ...Object.values(REASON_OF_CODE),
  'truncated', // shorter than its header or its declared length
  'trailing_bytes', // more than one frame
  'not_batch', // a HELLO, ACK or PING: there are no connections on UDP
  'too_many_streams', // over --max-streams
  'malformed', // anything else the decoder threw
] as const;

export type MalformedReason = (typeof MALFORMED_REASONS)[number];

/** The reason for an error thrown while decoding a datagram. */
export function reasonOf(code: string | undefined): MalformedReason {
  return (code !== undefined && (REASON_OF_CODE as Record<string, MalformedReason>)[code]) || 'malformed';
}
