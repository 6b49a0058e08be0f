// kit/lsp.ts: waiting for an ACK on a frame source, the NACK payload, and seqs persisted once and in order.
import { describe, expect, it } from 'vitest';
import { encodeAck, encodeNack, FrameDecoder, type Frame } from '../../../shared/protocol/frame.ts';
import { CheckFailure } from '../assert.ts';
import { decodeFrames, expectSeqsOnce, nackCode, seqProblems, streamId, waitAck, type FrameSource } from './lsp.ts';

const frames = (...bufs: Buffer[]): Frame[] => new FrameDecoder().push(Buffer.concat(bufs));

const source = (get: () => Frame[], closed = () => false): FrameSource => ({
  frames: get,
  where: 'conn',
  isClosed: closed,
});

const rec = (stream: number, seq: number) => ({ record: { _rx: { stream, seq } } });

const failure = (f: () => unknown) =>
  Promise.resolve()
    .then(f)
    .then(
      () => undefined,
      (e: unknown) => e as CheckFailure,
    );

describe('waitAck', () => {
  it('returns the ACK seqs of the stream once one reaches the seq asked for', async () => {
    let got = frames(encodeAck(7, 1));
    setTimeout(() => (got = frames(encodeAck(7, 1), encodeAck(9, 5), encodeAck(7, 3))), 20);
    expect(
      await waitAck(
        source(() => got),
        7,
        3,
        2000,
        'h',
      ),
    ).toEqual([1, 3]);
  });

  it('fails at once on a NACK, and on a close without the ACK', async () => {
    const nacked = await failure(() =>
      waitAck(
        source(() => frames(encodeNack(7, 'LS_ERR_X', 'm'))),
        7,
        1,
        5000,
        'h',
      ),
    );
    expect(nacked).toBeInstanceOf(CheckFailure);
    expect(nacked?.received).toMatch(/^a NACK /);
    const t0 = Date.now();
    const closed = await failure(() =>
      waitAck(
        source(
          () => frames(encodeAck(7, 1)),
          () => true,
        ),
        7,
        2,
        5000,
        'h',
      ),
    );
    expect(closed?.received).toMatch(/^the receiver closed the connection; ACK seqs so far \[ ?1 ?\]$/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('decodeFrames and nackCode', () => {
  it('a framing error fails, naming where', async () => {
    // failNow: a CheckFailure that also stops a waitUntil around it
    const err = (await failure(() => decodeFrames(Buffer.alloc(64, 'x'), 'here', 'h'))) as unknown as {
      failure: CheckFailure;
    };
    expect(err.failure.expected).toBe('the receiver to send well-formed LSP/1 frames');
    expect(err.failure.where).toBe('here');
  });

  it('reads the code of a NACK, and fails on a payload that is not {code, message}', async () => {
    expect(nackCode(frames(encodeNack(1, 'LS_ERR_CRC', 'bad'))[0]!, 'w')).toBe('LS_ERR_CRC');
    const bad = { ...frames(encodeNack(1, 'LS_ERR_CRC', 'bad'))[0]!, payload: Buffer.from('oops') };
    const err = await failure(() => nackCode(bad, 'w'));
    expect(err?.expected).toBe('a NACK payload {"code": "LS_ERR_…", "message": "…"}');
  });
});

describe('seqProblems / expectSeqsOnce', () => {
  it('finds nothing wrong with 1..n once, in order', () => {
    expect(
      seqProblems(
        [1, 2, 3].map((s) => rec(4, s)),
        4,
        3,
      ),
    ).toEqual([]);
    expectSeqsOnce(
      [1, 2].map((s) => rec(4, s)),
      { stream: 4, n: 2, where: 'd', hint: 'h' },
    );
  });

  it('names lost, duplicated, reordered seqs and a short stream', async () => {
    expect(
      seqProblems(
        [1, 3, 3, 2].map((s) => rec(4, s)),
        4,
        4,
      ),
    ).toEqual(['1 duplicated (seqs 3)', '1 out of order', 'highest seq 3']);
    expect(
      seqProblems(
        [1, 3].map((s) => rec(4, s)),
        4,
        3,
      ),
    ).toEqual(['1 lost (seqs 2)', '2 records in all']);
    const err = await failure(() =>
      expectSeqsOnce([rec(4, 2)], { stream: 4, n: 2, where: 'd', hint: 'h', what: 'the stream' }),
    );
    expect(err?.expected).toBe('seqs 1..2 of the stream, each persisted exactly once, in order');
  });

  it('streamId is a seeded u32 that is never 0', () => {
    expect(streamId(() => 0)).toBe(1);
    expect(streamId(() => 0.999999999999)).toBeLessThanOrEqual(0xffff_ffff);
  });
});
