// The one base of every coded error in the lab (issue 22.5; CONVENTIONS.md §4: errors are classes with a stable
// `code` and a `cause`). A caller that only needs "which error is this" tests `err instanceof CodedError` and
// reads `err.code`; each subclass keeps its own union of codes.
//
// Why not the protocol's LsError as the base: `LsError` (shared/protocol/errors.ts) carries the LSP/1 wire codes
// only, and receivers NACK with the code of any LsError they catch. An OwnersFileError or a JetStreamSinkError
// must not become a NACK code, so they share this base instead, and LsError extends it too.
// A leaf module: no imports, so even the pure codec (shared/protocol) may build on it.

export abstract class CodedError extends Error {
  /** `LS_ERR_…`: stable, what tests and callers match on (never the message). */
  abstract readonly code: string;
}

/** True when `e` is a coded error of the lab (and, if given, has that code). */
export function isCodedError(e: unknown, code?: string): e is CodedError {
  return e instanceof CodedError && (code === undefined || e.code === code);
}
