import { describe, expect, it } from 'vitest';
import { isRfc3339, sampleText } from './record.ts';

describe('sampleText', () => {
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
