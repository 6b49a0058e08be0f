import { describe, expect, it } from 'vitest';
import { envName, opt, parseHostPort, parseSize, receiverOptions, tryParseCli } from './cli.ts';

const def = {
  name: 'prog',
  summary: 'test program',
  options: {
    ...receiverOptions('dayXX'),
    limit: opt.bytes('--limit <size>', 'a size', 1024, { min: 16 }),
    follow: opt.flag('--follow', 'a switch'),
    target: opt.hostPort('--target <host:port>', 'where'),
  },
};
const argv = (...a: string[]) => ['node', 'prog', ...a];

describe('tryParseCli', () => {
  it('takes positional arguments: a required one missing or an extra one is a usage error (issue 22.5)', () => {
    const withLesson = { ...def, positional: [{ name: 'lesson', description: 'a day', required: true }] };
    const r = tryParseCli(withLesson, argv('day09', '--port', '9'));
    expect(r.ok && [r.args, r.values.port]).toEqual([['day09'], 9]);
    const missing = tryParseCli(withLesson, argv('--port', '9'));
    expect(missing.ok === false && missing.exitCode === 2 && missing.message).toMatch(/lesson/);
    const extra = tryParseCli(withLesson, argv('day09', 'day10'));
    expect(extra.ok === false && extra.exitCode).toBe(2);
    const help = tryParseCli(withLesson, argv('--help'));
    expect(help.ok === false && help.exitCode === 0 && help.output).toMatch(/Usage: prog \[options\] <lesson>/);
  });
  it('gives defaults', () => {
    const r = tryParseCli(def, argv());
    expect(r.ok && r.values).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      lane: 'dayXX',
      fsync: 'group',
      rejectsPerSecond: 100,
      retainBytes: 0,
      retainAgeMs: 0,
      limit: 1024,
      follow: false,
    });
  });
  it('reads the storage limits: --rejects-per-second, --retain-bytes (a size), --retain-age (a duration)', () => {
    const r = tryParseCli(def, argv('--rejects-per-second', '0', '--retain-bytes', '10GiB', '--retain-age', '7d'));
    expect(r.ok && r.values).toMatchObject({
      rejectsPerSecond: 0,
      retainBytes: 10 * 2 ** 30,
      retainAgeMs: 7 * 86_400_000,
    });
    const bad = tryParseCli(def, argv('--retain-age', 'forever'));
    expect(bad.ok === false && bad.exitCode === 2 && bad.message).toMatch(/--retain-age/);
  });
  it('parses flags, sizes and host:port', () => {
    const r = tryParseCli(def, argv('--port', '5140', '--limit', '4KiB', '--follow', '--target', '[::1]:9000'));
    expect(r.ok && r.values).toMatchObject({
      port: 5140,
      limit: 4096,
      follow: true,
      target: { host: '::1', port: 9000 },
    });
  });
  it('a --no-x flag is false unless given, true when given (its key names the negation)', () => {
    const neg = { name: 'prog', summary: 's', options: { noDemo: opt.flag('--no-demo', 'no demo traffic') } };
    const off = tryParseCli(neg, argv());
    const on = tryParseCli(neg, argv('--no-demo'));
    expect(off.ok && off.values.noDemo).toBe(false);
    expect(on.ok && on.values.noDemo).toBe(true);
  });
  it('help exits 0 with usage', () => {
    const r = tryParseCli(def, argv('--help'));
    expect(r).toMatchObject({ ok: false, exitCode: 0 });
    expect(!r.ok && r.exitCode === 0 && r.output).toMatch(/--max-connections/);
  });
  it.each([
    [['--bogus'], /--bogus/],
    [['--port', 'abc'], /--port/],
    [['--port', '70000'], /--port/],
    [['--fsync', 'sometimes'], /--fsync/],
    [['--limit', '3'], /--limit/],
    [['--target', 'nohost'], /--target/],
    [['extra'], /argument/],
  ])('%j is a usage error (exit 2) naming the flag', (args, name) => {
    const r = tryParseCli(def, argv(...args));
    expect(r).toMatchObject({ ok: false, exitCode: 2 });
    expect(!r.ok && r.exitCode === 2 && r.message).toMatch(name);
  });
  it('reads LOGSTREAM_<FLAG> from the environment; the flag wins', () => {
    process.env.LOGSTREAM_MAX_CONNECTIONS = '7';
    try {
      const r1 = tryParseCli(def, argv());
      expect(r1.ok && r1.values.maxConnections).toBe(7);
      const r2 = tryParseCli(def, argv('--max-connections', '9'));
      expect(r2.ok && r2.values.maxConnections).toBe(9);
      process.env.LOGSTREAM_MAX_CONNECTIONS = 'many';
      const r3 = tryParseCli(def, argv());
      expect(r3).toMatchObject({ ok: false, exitCode: 2 });
      expect(!r3.ok && r3.exitCode === 2 && r3.message).toMatch(/LOGSTREAM_MAX_CONNECTIONS/);
    } finally {
      delete process.env.LOGSTREAM_MAX_CONNECTIONS;
    }
  });
  it('runs the cross-option validator', () => {
    const r = tryParseCli(
      { ...def, validate: (v) => (v.follow && !v.target ? '--follow needs --target' : undefined) },
      argv('--follow'),
    );
    expect(r).toMatchObject({ ok: false, exitCode: 2, message: '--follow needs --target' });
  });
});

describe('value parsers', () => {
  it('sizes', () => {
    expect(parseSize('64KiB', 0, 1e9)).toBe(65536);
    expect(parseSize('1.5m', 0, 1e9)).toBe(1572864);
    expect(() => parseSize('lots', 0, 1e9)).toThrow();
  });
  it('host:port', () => {
    expect(parseHostPort('localhost:80')).toEqual({ host: 'localhost', port: 80 });
    expect(() => parseHostPort('::1:80')).toThrow();
  });
  it('env names', () => {
    expect(envName('--max-line-bytes <n>')).toBe('LOGSTREAM_MAX_LINE_BYTES');
  });
});
