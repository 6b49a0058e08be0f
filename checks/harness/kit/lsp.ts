// Talking LSP/1 to a receiver the way the checks of days 09, 12 and 13 do (shared/protocol/README.md): a seeded
// stream id, the frames a connection received, waiting for an ACK, a NACK and the close, and every seq of a
// stream persisted once and in order. One copy for every day (issue 22).
import { FrameDecoder, FrameType, parseNack, type Frame } from '../../../shared/protocol/frame.ts';
import { expectEqual, fail, failNow, show, waitUntil } from '../assert.ts';
import { formatRanges, readRecords, verifySeqs, type PersistedRecord } from '../persisted.ts';
import { tail } from '../stderr.ts';
import type { TcpClient } from '../tcp.ts';
import type { RunningProgram } from '../types.ts';

/** A stream id for the check's own frames: a seeded u32, never 0. */
export const streamId = (rng: () => number) => 1 + Math.floor(rng() * 0xffff_fffe);

/** Where frames come from: a TCP client of the harness, or a check's own TLS connection. */
export interface FrameSource {
  /** Every frame received so far (a framing error fails the check). */
  frames(): Frame[];
  /** Where failures point (`connection from 127.0.0.1:…`). */
  where: string;
  /** The peer closed (or the socket is gone): no more frames will come. */
  isClosed(): boolean;
}

/** Decodes `bytes` the peer sent; a framing error fails the check at once, saying where. */
export function decodeFrames(bytes: Buffer, where: string, hint: string): Frame[] {
  try {
    return new FrameDecoder({ maxPayloadBytes: 1 << 20 }).push(bytes);
  } catch (err) {
    failNow({
      expected: 'the receiver to send well-formed LSP/1 frames',
      received: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message} at byte ${(err as { offset?: number }).offset ?? '?'}`,
      where,
      hint,
    });
  }
}

const ANSWER_HINT = 'the receiver answers with ACK and NACK frames only (encodeAck / encodeNack, shared/protocol)';

/** Every frame the peer sent on this connection so far. */
export const framesFrom = (c: TcpClient): Frame[] =>
  decodeFrames(Buffer.from(c.received()), `bytes received on the connection from ${c.localPeer}`, ANSWER_HINT);

/** A harness TCP client as a FrameSource. */
export const tcpSource = (c: TcpClient): FrameSource => ({
  frames: () => framesFrom(c),
  where: `connection from ${c.localPeer}`,
  isClosed: () => c.destroyed || c.peerEnded,
});

/**
 * Waits for an ACK of `stream` with seq ≥ `want` and returns every ACK seq of it seen; fails at once on a NACK or
 * when the connection closed without that ACK.
 */
export async function waitAck(
  conn: TcpClient | FrameSource,
  stream: number,
  want: number,
  timeoutMs: number,
  hint: string,
): Promise<number[]> {
  const src = 'frames' in conn ? conn : tcpSource(conn);
  const what = `an ACK of stream ${stream} with seq ≥ ${want}`;
  let acks: number[] = [];
  await waitUntil(
    () => {
      const frames = src.frames();
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack)
        failNow({ expected: what, received: `a NACK ${show(nack.payload.toString('utf8'))}`, where: src.where, hint });
      acks = frames.filter((f) => f.type === FrameType.ACK && f.stream === stream).map((f) => f.seq);
      if (acks.some((s) => s >= want)) return true;
      if (src.isClosed())
        failNow({
          expected: what,
          received: `the receiver closed the connection; ACK seqs so far ${show(acks.slice(-10))}`,
          where: src.where,
          hint,
        });
      return false;
    },
    {
      timeoutMs,
      what,
      where: src.where,
      hint,
      received: () => (acks.length ? `ACK seqs ${show(acks.slice(-10))}` : 'no ACK'),
    },
  );
  return acks;
}

/** The `code` of a NACK frame's payload; a payload that is not `{"code","message"}` fails the check. */
export function nackCode(nack: Frame, where: string): string {
  try {
    return parseNack(nack).code;
  } catch (err) {
    fail({
      expected: 'a NACK payload {"code": "LS_ERR_…", "message": "…"}',
      received: `${show(nack.payload.toString('utf8'))} (${(err as Error).message})`,
      where,
      hint: 'encodeNack(stream, code, message)',
    });
  }
}

/**
 * What is wrong with `records` as seqs 1..n of one stream: lost, duplicated, out of order, a wrong highest seq or
 * count (empty when each seq is there exactly once, in order).
 */
export function seqProblems(records: ReadonlyArray<Pick<PersistedRecord, 'record'>>, stream: number, n: number) {
  const r = verifySeqs(records, { stream });
  const problems: string[] = [];
  if (r.lost.length) problems.push(`${r.lost.length} lost (seqs ${formatRanges(r.lost)})`);
  if (r.duplicated.length) problems.push(`${r.duplicated.length} duplicated (seqs ${formatRanges(r.duplicated)})`);
  if (r.reordered) problems.push(`${r.reordered} out of order`);
  if (r.maxSeq !== n) problems.push(`highest seq ${r.maxSeq}`);
  if (r.count !== n) problems.push(`${r.count} records in all`);
  return problems;
}

/** Every seq 1..n of `stream` in `records` exactly once, in order; else fails naming what (`stream N`). */
export function expectSeqsOnce(
  records: ReadonlyArray<Pick<PersistedRecord, 'record'>>,
  opts: { stream: number; n: number; where: string; hint: string; what?: string },
): void {
  const problems = seqProblems(records, opts.stream, opts.n);
  if (problems.length)
    fail({
      expected: `seqs 1..${opts.n} of ${opts.what ?? `stream ${opts.stream}`}, each persisted exactly once, in order`,
      received: problems.join('; '),
      where: opts.where,
      hint: opts.hint,
    });
}

/**
 * Every persisted record, grouped by `_rx.stream` (as a string). With `invalidHint`, a complete line that is not a
 * JSON record fails the check with that hint.
 */
export async function recordsByStream(dataDir: string, invalidHint?: string): Promise<Map<string, PersistedRecord[]>> {
  const read = await readRecords(dataDir);
  const bad = read.invalid[0];
  if (bad && invalidHint !== undefined)
    fail({
      expected: 'every complete line of *.ndjson to be a JSON record',
      received: `${read.invalid.length} bad lines; first: ${show(bad.text.slice(0, 120))} (${bad.problem})`,
      where: `${bad.file} line ${bad.lineNo}`,
      hint: invalidHint,
    });
  const out = new Map<string, PersistedRecord[]>();
  for (const p of read.records) {
    const key = String((p.record['_rx'] as Record<string, unknown> | undefined)?.['stream']);
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    list.push(p);
  }
  return out;
}

/**
 * After `what` was sent on `c` (a fatal error for the receiver): a NACK with `code` must come, then the close. Fails
 * at once when the connection closes without a NACK, or when `rx` (if given) exits: bad input never stops a server
 * (CONVENTIONS.md §2). `codeHint` is the hint of a wrong code (default `hint`).
 */
export async function expectNackThenClose(
  c: TcpClient,
  opts: {
    code: string;
    what: string;
    hint: string;
    codeHint?: string;
    timeoutMs?: number;
    rx?: Pick<RunningProgram, 'exited' | 'pid' | 'stderrText'>;
  },
): Promise<void> {
  const where = `connection from ${c.localPeer}`;
  const { code: want, what, hint, rx } = opts;
  const nack = await waitUntil(
    () => {
      const f = framesFrom(c).find((x) => x.type === FrameType.NACK);
      if (!f && c.closedState)
        failNow({
          expected: `a NACK {"code":"${want}"} before the close (${what})`,
          received: 'the connection closed without a NACK',
          where,
          hint,
        });
      if (!f && rx?.exited)
        failNow({
          expected: `a NACK {"code":"${want}"} (${what})`,
          received: `the receiver exited; stderr tail:\n${tail(rx.stderrText(), 5, 10)}`,
          where: `receiver pid ${rx.pid}`,
          hint: 'bad input never stops a server (CONVENTIONS.md §2)',
        });
      return f;
    },
    {
      timeoutMs: opts.timeoutMs ?? 5000,
      what: `a NACK after ${what}`,
      where,
      hint,
      received: () =>
        `frames received: ${show(framesFrom(c).map((f) => FrameType[f.type]))}${c.closedState ? ' (connection closed)' : ''}`,
    },
  );
  expectEqual(nackCode(nack, where), want, { what: `the NACK code for ${what}`, where, hint: opts.codeHint ?? hint });
  await c.waitClosed(3000, `the receiver to close the connection after its NACK (${what})`);
}

/** The persisted records of `stream` (see recordsByStream for `invalidHint`). */
export async function recordsOfStream(dataDir: string, stream: number, invalidHint?: string) {
  return (await recordsByStream(dataDir, invalidHint)).get(String(stream)) ?? [];
}

/** Every seq 1..n of `stream` persisted in `dataDir` exactly once, in order; returns its records. */
export async function expectStreamSeqs(
  dataDir: string,
  stream: number,
  n: number,
  hint: string,
  invalidHint?: string,
): Promise<PersistedRecord[]> {
  const records = await recordsOfStream(dataDir, stream, invalidHint);
  expectSeqsOnce(records, { stream, n, where: dataDir, hint });
  return records;
}
