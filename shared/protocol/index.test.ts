/**
 * shared/protocol/index.ts is the library's documented public entry (shared/protocol/README.md §6 imports
 * from it; issue 22 kept it): every module it names is re-exported, the same functions and classes, and
 * the README's example compiles against it.
 */
import { describe, expect, it } from 'vitest';
import * as batch from './batch.ts';
import * as codecs from './codecs.ts';
import * as errors from './errors.ts';
import * as frame from './frame.ts';
import * as protocol from './index.ts';
import * as limits from './limits.ts';
import * as record from './record.ts';
import * as syslogEncode from './syslog/encode.ts';
import * as syslogErrors from './syslog/errors.ts';
import * as syslogNames from './syslog/names.ts';
import * as syslogScan from './syslog/scan.ts';
import * as syslogWriter from './syslog/writer.ts';

describe('shared/protocol/index.ts', () => {
  it.each(
    Object.entries({
      batch,
      codecs,
      errors,
      frame,
      limits,
      record,
      syslogEncode,
      syslogErrors,
      syslogNames,
      syslogScan,
      syslogWriter,
    }),
  )('re-exports everything %s exports', (_name, mod) => {
    for (const [key, value] of Object.entries(mod)) expect(protocol, key).toHaveProperty(key, value);
  });

  it("the README's example: a frame decoded, a batch ACKed, a broken one NACKed with its LsError code", () => {
    const { FrameDecoder, FrameType, decodeBatch, encodeAck, encodeNack, isLsError } = protocol;
    const decoder = new FrameDecoder();
    const [f] = decoder.push(batch.encodeBatch({ stream: 1, seq: 1, records: ['{"msg":"a"}'] }));
    expect(f?.type).toBe(FrameType.BATCH);
    expect(decodeBatch(f!).map(String)).toEqual(['{"msg":"a"}']);
    expect(decoder.push(encodeAck(1, 1))[0]?.type).toBe(FrameType.ACK);
    let code = '';
    try {
      new FrameDecoder().push(Buffer.alloc(28));
    } catch (err) {
      expect(isLsError(err)).toBe(true);
      if (isLsError(err)) code = err.code;
    }
    expect(code).toBe('LS_ERR_MAGIC');
    expect(new FrameDecoder().push(encodeNack(1, code as errors.LsErrorCode, 'bad magic'))[0]?.type).toBe(
      FrameType.NACK,
    );
  });
});
