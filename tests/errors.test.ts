// Every coded error of the lab extends the one base (issue 22.5): callers match `instanceof CodedError` + `code`.
import { describe, expect, it } from 'vitest';
import { CheckFailure } from '../checks/harness/assert.ts';
import { HarnessError } from '../checks/harness/errors.ts';
import { OwnersFileError } from '../lessons/day09/stream-owners.ts';
import { BatchTooLargeError } from '../lessons/day11/batcher.ts';
import { JetStreamSinkError } from '../lessons/scale/jetstream/sink.ts';
import { DashboardError } from '../shared/dashboard/server.ts';
import { DirLockedError } from '../shared/dir-lock.ts';
import { CodedError, isCodedError } from '../shared/errors.ts';
import { ParsePoolError } from '../shared/parse-pool.ts';
import { LS_ERR, LsError } from '../shared/protocol/errors.ts';
import { SyslogError } from '../shared/protocol/syslog/errors.ts';
import { CertError } from '../shared/tls/certs.ts';

describe('CodedError', () => {
  const cases: Array<[string, CodedError, string]> = [
    ['LsError', new LsError(LS_ERR.LS_ERR_CRC, 'x'), 'LS_ERR_CRC'],
    ['SyslogError', new SyslogError('syslog_bad_pri', 'x'), 'LS_ERR_SYSLOG_PRI'],
    ['DirLockedError', new DirLockedError('/d', 1), 'LS_ERR_DIR_LOCKED'],
    ['CertError', new CertError('LS_ERR_CERT_PARSE', 'x'), 'LS_ERR_CERT_PARSE'],
    ['DashboardError', new DashboardError('LS_ERR_QUERY', 'x'), 'LS_ERR_QUERY'],
    ['OwnersFileError', new OwnersFileError('x'), 'LS_ERR_OWNERS_FILE'],
    ['JetStreamSinkError', new JetStreamSinkError('LS_ERR_JS_CHAIN', 'x'), 'LS_ERR_JS_CHAIN'],
    ['BatchTooLargeError', new BatchTooLargeError(10, 5), 'LS_ERR_TOO_LARGE'],
    ['HarnessError', new HarnessError('LS_ERR_HARNESS', 'x'), 'LS_ERR_HARNESS'],
    ['CheckFailure', new CheckFailure({ expected: 'x', received: 'y' }), 'LS_ERR_CHECK_FAILED'],
    ['ParsePoolError', new ParsePoolError('x'), 'LS_ERR_PARSE_WORKER_FAILED'],
  ];
  it.each(cases)('%s is a CodedError with its stable code', (_name, err, code) => {
    expect(err).toBeInstanceOf(CodedError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(isCodedError(err, code)).toBe(true);
    expect(isCodedError(err, 'LS_ERR_OTHER')).toBe(false);
  });
  it('only the protocol errors are LsErrors (a receiver NACKs with their code)', () => {
    expect(cases.filter(([, e]) => e instanceof LsError).map(([n]) => n)).toEqual(['LsError']);
    expect(isCodedError(new Error('plain'))).toBe(false);
  });
});
