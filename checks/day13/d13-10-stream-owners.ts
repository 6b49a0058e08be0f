import { readFileSync } from 'node:fs';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello, FrameType, parseNack } from '../../shared/protocol/frame.ts';
import { issueClientCert } from '../../shared/tls/certs.ts';
import { expectEqual, expectTrue, failNow, show, waitFor, waitUntil } from '../harness/assert.ts';
import { readStats } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { sleep } from '../harness/kit/records.ts';
import {
  type Rec,
  certsFor,
  startReceiver,
  type TlsConn,
  withClients,
  secure,
  waitAck,
  rec,
  streamId,
  expectSeqs,
} from './support.ts';

/** A connection that must be refused with a NACK `code` (never an ACK of `stream`), then closed. */
async function expectNackCode(conn: TlsConn, stream: number, code: string, what: string, hint: string): Promise<void> {
  let seen = '';
  await waitUntil(
    () => {
      const frames = conn.frames();
      const ack = frames.find((f) => f.type === FrameType.ACK && f.stream === stream);
      if (ack)
        failNow({
          expected: `${what}: refused with a NACK ${code}`,
          received: `an ACK of stream ${stream} (seq ${ack.seq}): the receiver let it write`,
          where: conn.label,
          hint,
        });
      const nack = frames.find((f) => f.type === FrameType.NACK);
      if (nack) {
        let got = '';
        try {
          got = parseNack(nack).code;
        } catch {
          got = `an unreadable NACK ${show(nack.payload.toString('utf8'))}`;
        }
        if (got !== code)
          failNow({ expected: `${what}: a NACK ${code}`, received: `a NACK ${got}`, where: conn.label, hint });
        return true;
      }
      if (conn.isClosed())
        failNow({
          expected: `${what}: a NACK ${code} before the close`,
          received: 'the connection closed without a NACK',
          where: conn.label,
          hint,
        });
      seen = show(frames.map((f) => FrameType[f.type]));
      return false;
    },
    {
      timeoutMs: 5000,
      what: `a NACK ${code} (${what})`,
      where: conn.label,
      hint,
      received: () => `frames so far ${seen || '(none)'}`,
    },
  );
  const closed = await Promise.race([conn.closed, sleep(3000).then(() => undefined)]);
  expectTrue(closed !== undefined, {
    expected: `${what}: the connection closed after the NACK`,
    received: 'still open after 3 s',
    where: conn.label,
    hint: 'a refused write is fatal for its connection (NACK, then close)',
  });
}

/** stats.json → ownership.refused.stream_owned (day 09's ingest counts each refusal). */
async function waitRefusals(dataDir: string, atLeast: number): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const s = await readStats(dataDir).catch(() => null);
      last = ((s?.['ownership'] as Rec | undefined)?.['refused'] as Rec | undefined)?.['stream_owned'];
      return typeof last === 'number' && last >= atLeast;
    },
    {
      timeoutMs: 4000,
      what: `stats.json ownership.refused.stream_owned ≥ ${atLeast}`,
      where: `${dataDir}/stats.json`,
      hint: 'every refusal is counted by reason (lessons/day09/ingest.ts does it for you)',
      received: () => `ownership.refused.stream_owned = ${show(last)}`,
    },
  );
}

export const d13_10: Check = {
  id: 'd13.10',
  title:
    "mTLS identities own streams: a second client certificate writing the first one's stream is refused (LS_ERR_STREAM_OWNED), the first's records all stored, across a restart",
  points: 20,
  timeoutMs: 60_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const tag = randInt(ctx.rng, 1000, 9999);
    const alice = await issueClientCert(certs.dir, await ctx.tmp(), { cn: `alice-${tag}` });
    const mallory = await issueClientCert(certs.dir, await ctx.tmp(), { cn: `mallory-${tag}` });
    const ca = readFileSync(certs.ca.cert);
    const as = (c: { cert: string; key: string }) => ({ ca, cert: readFileSync(c.cert), key: readFileSync(c.key) });
    const S = streamId(ctx.rng);
    const M = streamId(ctx.rng);
    const NAME = 'check-d13.10'; // both send the same HELLO name: a name is a claim anyone can type
    const A = randInt(ctx.rng, 50, 150);
    const records = (from: number, to: number, who: string) =>
      Array.from({ length: to - from + 1 }, (_, i) => JSON.stringify(rec(`${who}-${from + i}`, ctx.rng)));
    const hint =
      "your TODO in lessons/day13/receiver.ts (writerOf): with --mtls the identity that owns a stream is the connection's verified client certificate subject (subjectOf, filled by your verifiedSubject TODO), not the HELLO's name; day 09's ingest then refuses every other identity";
    const first = await startReceiver(ctx, certs, { extra: ['--mtls'] });
    const { dataDir } = first;

    await withClients(ctx, async (clients) => {
      const a = clients.connect(first.port, as(alice), `alice (CN=alice-${tag})`);
      await secure(a, "a client certificate from the receiver's CA is accepted (--mtls)");
      await a.write(encodeHello(S, { name: NAME }));
      await waitAck(a, S, 0, 5000, 'HELLO → ACK');
      await a.write(encodeBatch({ stream: S, seq: 1, records: records(1, A, 'alice') }));
      await waitAck(a, S, A, 5000, "alice's first batch is ACKed");

      // Issue 17's attack: another certificate from the same CA, the same stream and HELLO name, seqs above alice's.
      const m = clients.connect(first.port, as(mallory), `mallory (CN=mallory-${tag}, same CA)`);
      await secure(
        m,
        'another client certificate from the same CA is accepted in the handshake (it may write streams of its own)',
      );
      await m
        .write(
          Buffer.concat([
            encodeHello(S, { name: NAME }),
            encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, A + 900, 'mallory') }),
          ]),
        )
        .catch(() => undefined);
      await expectNackCode(m, S, 'LS_ERR_STREAM_OWNED', `mallory's HELLO for alice's stream ${S}`, hint);
      ctx.log(`mallory's HELLO for stream ${S}: NACK LS_ERR_STREAM_OWNED`);

      // mallory's own stream is fine; a BATCH of alice's stream on that connection is not.
      const m2 = clients.connect(first.port, as(mallory), `mallory again (HELLO of its own stream ${M})`);
      await secure(m2, "mallory's certificate is still accepted");
      await m2.write(encodeHello(M, { name: NAME }));
      await waitAck(m2, M, 0, 5000, 'a stream nobody owns: the HELLO binds it to mallory and is answered');
      await m2
        .write(encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, A + 900, 'mallory') }))
        .catch(() => undefined);
      await expectNackCode(m2, S, 'LS_ERR_STREAM_OWNED', `mallory's BATCH for alice's stream ${S}`, hint);
      await waitRefusals(dataDir, 2);

      // alice carries on: her next seqs are stored, not dropped as "duplicates" of mallory's
      await a.write(encodeBatch({ stream: S, seq: A + 1, records: records(A + 1, 2 * A, 'alice') }));
      await waitAck(a, S, 2 * A, 5000, "alice's next batch is ACKed");
    });
    await expectSeqs(dataDir, S, 2 * A, "only alice wrote her stream: every seq of hers stored, none of mallory's");

    // The binding is durable: kill -9, restart on the same data dir, mallory is still refused.
    first.rx.kill('SIGKILL');
    await first.rx.waitExit(5000);
    const second = await startReceiver(ctx, certs, { dataDir, extra: ['--mtls'] });
    ctx.log(`receiver killed (-9) and restarted (pid ${second.rx.pid})`);
    await withClients(ctx, async (clients) => {
      const m = clients.connect(second.port, as(mallory), 'mallory after the restart');
      await secure(m, "mallory's certificate is accepted in the handshake");
      await m.write(encodeHello(S, { name: NAME }));
      await expectNackCode(
        m,
        S,
        'LS_ERR_STREAM_OWNED',
        `mallory's HELLO for stream ${S} after a receiver restart`,
        `${hint} (the binding is kept on disk by day 09's ingest: stream-owners.json)`,
      );
      const a = clients.connect(second.port, as(alice), 'alice after the restart');
      await secure(a, "alice's certificate is accepted");
      await a.write(encodeHello(S, { name: NAME }));
      const acks = await waitAck(a, S, 0, 5000, 'the owner is answered after the restart');
      expectEqual(acks[0], 2 * A, {
        what: `the ACK to alice's HELLO of stream ${S} after the restart`,
        where: a.label,
        hint: "the stream's durable mark: everything alice wrote, nothing of mallory's",
      });
      await a.write(encodeBatch({ stream: S, seq: 2 * A + 1, records: records(2 * A + 1, 3 * A, 'alice') }));
      await waitAck(a, S, 3 * A, 5000, 'alice writes on after the restart');
    });
    await expectSeqs(dataDir, S, 3 * A, 'every record of alice stored exactly once, across the restart');
    await waitRefusals(dataDir, 1);
  },
};
