import { CodedError } from '../../errors.ts';
/**
 * Why a syslog input is rejected: the reasons (the `reason` in rejects.ndjson, stable names such as
 * `syslog_bad_pri`) and the error codes they map to (`LS_ERR_SYSLOG_*`). The scanner (scan.ts) and the
 * record writer (writer.ts) return a reason, never throw, on the hot path; the stream framing
 * (lessons/stack/syslog-framing.ts) reports its own through onReject. `parseSyslog` is the throwing
 * convenience form: a `SyslogError` whose `code` matches the reason.
 */

/** Why a syslog input was rejected (the `reason` in rejects.ndjson), with the error code it maps to. */
export const SYSLOG_ERR = {
  /** PRI missing, not `<` 1–3 digits `>`, or above 191 */
  syslog_bad_pri: 'LS_ERR_SYSLOG_PRI',
  /** an RFC 5424 header cut short (a field missing, or two spaces in a row) */
  syslog_bad_header: 'LS_ERR_SYSLOG_HEADER',
  /** an RFC 5424 TIMESTAMP that is neither `-` nor a valid RFC 3339 date-time */
  syslog_bad_timestamp: 'LS_ERR_SYSLOG_TIMESTAMP',
  /** RFC 5424 STRUCTURED-DATA that does not follow the grammar */
  syslog_bad_sd: 'LS_ERR_SYSLOG_SD',
  /** a datagram or an LF-framed message longer than the message limit */
  syslog_too_large: 'LS_ERR_SYSLOG_TOO_LARGE',
  /** RFC 6587 octet counting: a count that is not digits followed by a space (or is 0, or has > 10 digits) */
  syslog_bad_count: 'LS_ERR_SYSLOG_COUNT',
  /**
   * RFC 6587 octet counting: a count larger than the message limit. The message is skipped (the count
   * says where the next one starts); a count past the skip limit too ends the connection (`fatal`).
   */
  syslog_count_too_large: 'LS_ERR_SYSLOG_COUNT_TOO_LARGE',
  /** the stream ended inside an octet-counted message */
  syslog_truncated: 'LS_ERR_SYSLOG_TRUNCATED',
} as const;

export type SyslogReason = keyof typeof SYSLOG_ERR;
export type SyslogErrorCode = (typeof SYSLOG_ERR)[SyslogReason];
export const SYSLOG_REASONS = Object.keys(SYSLOG_ERR) as SyslogReason[];

export class SyslogError extends CodedError {
  readonly code: SyslogErrorCode;
  readonly reason: SyslogReason;
  /** byte offset in the message (parser) or in the stream (framing) of what is wrong */
  readonly offset?: number;
  constructor(reason: SyslogReason, message: string, opts?: { cause?: unknown; offset?: number }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SyslogError';
    this.reason = reason;
    this.code = SYSLOG_ERR[reason];
    if (opts?.offset !== undefined) this.offset = opts.offset;
  }
}
