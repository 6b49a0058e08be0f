import { describe, expect, it } from 'vitest';
import { warmUpReceivePath } from './warm-up.ts';

describe('the day 10 receiver start-up warm-up', () => {
  it('runs generated records through the receive path without a reject or an error; 0 records is no warm-up', () => {
    // validateBatch is strict: a generated record it rejected would mean the path warmed is not the one used
    expect(warmUpReceivePath(7_000, 64 << 10, 4 << 20)).toBeGreaterThan(0);
    expect(warmUpReceivePath(0, 64 << 10, 4 << 20)).toBe(0);
  });
});
