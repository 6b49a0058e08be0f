import { describe, expect, it } from 'vitest';
import { isRfc3339, LEVELS, sampleText, validateRecord, validateRecordObject, type RejectReason } from './record.ts';

const OK = '{"ts":"2026-11-26T14:13:48.123Z","level":"info","msg":"hi"}';

describe('validateRecord', () => {
  it('accepts a minimal record and keeps extra fields', () => {
    const r = validateRecord(Buffer.from(`  {"ts":"2026-11-26T14:13:48Z","level":"warn","msg":"m","x":[1],"service":"api","host":"h","attrs":{"a":1}} \t`));
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
    ['invalid_utf8', Buffer.concat([Buffer.from('{"ts":"2026-11-26T14:13:48Z","level":"info","msg":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])],
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
    expect(validateRecordObject({ ts: '2026-11-26T14:13:48Z', level: 'info' })).toMatchObject({ reason: 'missing_msg' });
  });

  it('sampleText keeps at most the first 256 bytes', () => {
    expect(sampleText(Buffer.alloc(1000, 0x61))).toHaveLength(256);
    expect(sampleText(Buffer.from('short'))).toBe('short');
  });
});

describe('isRfc3339', () => {
  it.each([
    '2026-11-26T14:13:48Z',
    '2026-11-26T14:13:48.123Z',
    '2026-11-26t14:13:48.123456789z',
    '2026-11-26T14:13:48+01:00',
    '2026-11-26T14:13:48.5-23:59',
    '2024-02-29T00:00:00Z',
    '2016-12-31T23:59:60Z',
    '0000-01-01T00:00:00Z',
  ])('accepts %s', (s) => expect(isRfc3339(s)).toBe(true));

  it.each([
    '',
    '2026-11-26',
    '2026-11-26 14:13:48Z',
    '2026-11-26T14:13:48',
    '2026-11-26T14:13:48.Z',
    '2026-11-26T14:13:48.123',
    '2026-13-01T00:00:00Z',
    '2026-00-01T00:00:00Z',
    '2026-11-31T00:00:00Z',
    '2025-02-29T00:00:00Z',
    '1900-02-29T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T14:60:00Z',
    '2026-11-26T14:13:61Z',
    '2026-11-26T14:13:48+0100',
    '2026-11-26T14:13:48+24:00',
    '2026-11-26T14:13:48Zjunk',
    '2026-11-26T14:13:48+01:00junk',
    '+2026-11-26T14:13:48Z',
    '２０２６-11-26T14:13:48Z',
  ])('rejects %j', (s) => expect(isRfc3339(s)).toBe(false));
});
