/**
 * The one-pass writer checks an RFC 3339 TIMESTAMP's `YYYY-MM-DDTHH:MM:SS` only when it differs from the
 * last one that passed (issue 21.1): these cases hold that shortcut to the full check — a message is
 * accepted or rejected exactly as scanSyslog decides, whatever came before it — and its lines to the
 * record the reference mapping (fieldsToRecord) makes.
 */
import { describe, expect, it } from 'vitest';
import { fieldsToRecord, isRfc3339Bytes, scanSyslog, SyslogFields } from './scan.ts';
import { NOW } from './test-support.ts';
import { SyslogRecordWriter } from './writer.ts';

const TAIL = ',"_rx":{"lane":"syslog"}';

/** The reference record of a message (scanSyslog + fieldsToRecord) with the writer's tail, as JSON would read it. */
function reference(msg: string): unknown {
  const buf = Buffer.from(msg, 'latin1');
  const f = new SyslogFields();
  if (scanSyslog(buf, 0, buf.length, f) !== undefined) return undefined;
  return JSON.parse(`${JSON.stringify(fieldsToRecord(buf, f, NOW)).slice(0, -1)}${TAIL}}`);
}

/** Feeds the messages in order to one writer; each gives its record (one line), or undefined when rejected. */
function writeInOrder(messages: string[]): unknown[] {
  const w = new SyslogRecordWriter();
  w.setReceived(NOW);
  w.setTail(TAIL);
  return messages.map((m) => {
    const buf = Buffer.from(m, 'latin1');
    const reason = w.add(buf, 0, buf.length);
    const line = w.take()?.toString('latin1');
    expect(reason === undefined).toBe(line !== undefined);
    if (line === undefined) return undefined;
    expect(line.indexOf('\n')).toBe(line.length - 1);
    return JSON.parse(line) as unknown;
  });
}

describe('SyslogRecordWriter: the TIMESTAMP check it skips', () => {
  const msg = (ts: string) => `<14>1 ${ts} host app 42 ID - text`;
  const cases: Array<[what: string, timestamps: string[]]> = [
    ['the same second, other fractions and zones', ['2026-11-26T10:00:00.1Z', '2026-11-26T10:00:00.999999+01:00']],
    ['the same head with a broken rest after a good one', ['2026-11-26T10:00:00Z', '2026-11-26T10:00:00.Z']],
    ['the same head, a zone out of range', ['2026-11-26T10:00:00Z', '2026-11-26T10:00:00+24:00']],
    ['the same head, too short to be one', ['2026-11-26T10:00:00Z', '2026-11-26T10:00:00']],
    ['a bad head first, then the same head again', ['2026-02-30T10:00:00Z', '2026-02-30T10:00:00Z']],
    ['a good head, then a bad one that shares its first bytes', ['2026-11-26T23:59:59Z', '2026-11-26T23:59:61Z']],
    ['NUL bytes where no timestamp was checked yet', ['\0'.repeat(19) + 'Z', '2026-11-26T10:00:00Z']],
    ['a leap day after the day before it', ['2024-02-28T10:00:00Z', '2024-02-29T10:00:00Z', '2023-02-29T10:00:00Z']],
  ];
  for (const [what, timestamps] of cases) {
    it(`decides as the full check: ${what}`, () => {
      const messages = timestamps.map(msg);
      const lines = writeInOrder(messages);
      messages.forEach((m, i) => {
        const ts = timestamps[i]!;
        expect(lines[i] !== undefined, ts).toBe(isRfc3339Bytes(Buffer.from(ts, 'latin1'), 0, ts.length));
        expect(lines[i], ts).toEqual(reference(m));
      });
    });
  }

  it('every message of a run of seconds, in order and shuffled, as the reference mapping writes it', () => {
    const messages: string[] = [];
    for (let s = 0; s < 3; s++)
      for (let f = 0; f < 4; f++)
        messages.push(msg(`2026-11-26T10:00:0${s}.${f}Z`), msg(`2026-11-26T10:00:0${s}.${f}+99:00`));
    const shuffled = messages.map((_, i) => messages[(i * 7) % messages.length]!);
    for (const list of [messages, shuffled]) expect(writeInOrder(list)).toEqual(list.map(reference));
  });
});
