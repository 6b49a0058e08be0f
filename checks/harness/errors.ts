// Errors of the harness itself (exit code 2): the checks could not run at all. A lesson that
// misbehaves is a CheckFailure instead (assert.ts).
import { CodedError } from '../../shared/errors.ts';

export type HarnessErrorCode =
  | 'LS_ERR_UNKNOWN_LESSON'
  | 'LS_ERR_LESSON_MISSING'
  | 'LS_ERR_UNKNOWN_CHECK'
  | 'LS_ERR_BAD_FLAG'
  | 'LS_ERR_FIXTURE_STALE'
  | 'LS_ERR_SOLUTION_MARKERS'
  | 'LS_ERR_HARNESS'
  | 'LS_ERR_NO_SANDBOX';

export class HarnessError extends CodedError {
  readonly code: HarnessErrorCode;
  constructor(code: HarnessErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HarnessError';
    this.code = code;
  }
}
