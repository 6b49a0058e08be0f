/** Default limits of LSP/1 §6. Every one is configurable; these are what you get when you pass nothing. */

/** Largest frame payload as sent (after compression): 4 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** Largest decoded (decompressed) BATCH payload: 32 MiB. Inflating past it is a fatal LS_ERR_TOO_LARGE. */
export const DEFAULT_MAX_DECODED_BYTES = 32 * 1024 * 1024;

/** Largest record, encoded, and so the longest text line: 64 KiB. */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024;

/** Most records in one BATCH: the count field is a u16 and a BATCH holds at least one. */
export const MAX_BATCH_COUNT = 0xffff;

/** How much of a rejected input is kept as its `sample` (LSP/1 §7). */
export const SAMPLE_BYTES = 256;
