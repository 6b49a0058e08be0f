// The record rules of LSP/1 §1, as lessons/day08/validate.ts applies them [d08.6].
import { describe, expect, it } from 'vitest';
import { LEVELS, type RejectReason } from '../../shared/protocol/record.ts';
import { validateRecord, validateRecordObject } from './validate.ts';

const OK = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"hi"}';

describe('validateRecord', () => {
  it('accepts a minimal record and keeps extra fields', () => {
    const r = validateRecord(
      Buffer.from(
        `  {"ts":"2026-11-26T14:13:48Z","level":"warn","msg":"m","x":[1],"service":"api","host":"h","attrs":{"a":1}} \t`,
      ),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.text.startsWith('{') && r.text.endsWith('}')).toBe(true);
    expect(r.record).toMatchObject({ level: 'warn', msg: 'm', x: [1], service: 'api', host: 'h', attrs: { a: 1 } });
  });

  it.each(LEVELS)('level %s is accepted', (level) => {
    expect(validateRecord(Buffer.from(`{"ts":"2026-11-26T14:13:48Z","level":"${level}","msg":""}`)).ok).toBe(true);
  });

  const rows: Array<[RejectReason, string | Buffer, string?]> = [
    ['record_too_large', `{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"${'x'.repeat(100)}"}`],
    [
      'invalid_utf8',
      Buffer.concat([
        Buffer.from('{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}'),
      ]),
    ],
    ['invalid_json', '{"ts":'],
    ['invalid_json', ''],
    ['invalid_json', 'plain text line'],
    ['not_object', '[1,2]'],
    ['not_object', 'null'],
    ['not_object', '"a string"'],
    ['not_object', '42'],
    ['missing_ts', '{"level":"info","msg":"m"}'],
    ['invalid_ts', '{"ts":1764166428,"level":"info","msg":"m"}'],
    ['invalid_ts', '{"ts":null,"level":"info","msg":"m"}'],
    ['invalid_ts', '{"ts":"yesterday","level":"info","msg":"m"}'],
    ['missing_level', '{"ts":"2026-11-26T14:13:48Z","msg":"m"}'],
    ['invalid_level', '{"ts":"2026-11-26T14:13:48Z","level":"INFO","msg":"m"}'],
    ['invalid_level', '{"ts":"2026-11-26T14:13:48Z","level":3,"msg":"m"}'],
    ['missing_msg', '{"ts":"2026-11-26T14:13:48Z","level":"info"}'],
    ['invalid_msg', '{"ts":"2026-11-26T14:13:48Z","level":"info","msg":{"a":1}}'],
    ['invalid_field', '{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"m","service":1}', 'service'],
    ['invalid_field', '{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"m","host":null}', 'host'],
    ['invalid_field', '{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"m","attrs":[1]}', 'attrs'],
    ['invalid_field', '{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"m","attrs":"a=1"}', 'attrs'],
  ];

  it.each(rows)('%s: %s', (reason, input, detail) => {
    const r = validateRecord(typeof input === 'string' ? Buffer.from(input) : input, 80);
    expect(r).toMatchObject({ ok: false, reason });
    if (detail !== undefined && !r.ok) expect(r.detail).toContain(detail);
  });

  it('the size limit is in bytes, inclusive', () => {
    const line = Buffer.from(OK);
    expect(validateRecord(line, line.length).ok).toBe(true);
    expect(validateRecord(line, line.length - 1)).toMatchObject({ ok: false, reason: 'record_too_large' });
    expect(validateRecord(line).ok).toBe(true); // default 64 KiB
  });

  it('validateRecordObject checks already-parsed values by the same rules', () => {
    expect(validateRecordObject(JSON.parse(OK)).ok).toBe(true);
    expect(validateRecordObject([])).toMatchObject({ reason: 'not_object' });
    expect(validateRecordObject({ ts: '2026-11-26T14:13:48Z', level: 'info' })).toMatchObject({
      reason: 'missing_msg',
    });
  });
});
