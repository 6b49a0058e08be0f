import net from 'node:net';
import { expectTrue, fail, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { at } from '../harness/kit/records.ts';

// The backoff under test (--backoff-base-ms, --backoff-cap-ms) and the failed connects before the shipper gives up.
const BASE = 50;
const CAP = 400;
const ATTEMPTS = 8;
const TOL = 300; // a busy machine only ever makes a delay longer

export const d09_10: Check = {
  id: 'd09.10',
  exclusive: true,
  title: 'Reconnect backoff is exponential with full jitter, bounded by the cap',
  points: 10,
  timeoutMs: 40_000,
  async run(ctx) {
    // Two servers of our own that accept and at once close every connection: each attempt fails.
    const servers = await Promise.all([0, 1].map(() => closingServer()));
    try {
      const runs = await Promise.all(
        servers.map(async (srv) =>
          ctx.run(
            'shipper',
            [
              '--target',
              at(srv.port),
              '--generate',
              '10',
              '--state-dir',
              await ctx.tmp(),
              '--backoff-base-ms',
              String(BASE),
              '--backoff-cap-ms',
              String(CAP),
              '--max-attempts',
              String(ATTEMPTS),
              '--ack-timeout-ms',
              '2000',
            ],
            { timeoutMs: 25_000 },
          ),
        ),
      );
      const seqs: number[][] = [];
      for (const [i, r] of runs.entries()) {
        const srv = servers[i]!;
        const cmd = `shipper --target ${at(srv.port)} --max-attempts ${ATTEMPTS} (shipper ${i + 1})`;
        if (r.timedOut)
          fail({
            expected: `\`${cmd}\` to give up after ${ATTEMPTS} failed connects`,
            received: `still running after ${r.ms} ms (${srv.accepts.length} connections so far)`,
            where: cmd,
            hint: 'a connection closed before the HELLO is answered is a failed attempt; --max-attempts N gives up after N in a row',
          });
        const done = r.json.find((j) => j['event'] === 'done');
        expectTrue(done !== undefined, {
          expected: `a done line from \`${cmd}\` when it gives up`,
          received: show(r.stdout.slice(-300) || '(empty stdout)'),
          where: 'shipper stdout',
        });
        expectTrue(r.exitCode !== 0, {
          expected: `a non-zero exit from \`${cmd}\` (it gave up with nothing delivered)`,
          received: `exit code ${r.exitCode}`,
          where: cmd,
          hint: 'exit 0 only when acked + dropped == records read',
        });
        const n = srv.accepts.length;
        expectTrue(n >= ATTEMPTS && n <= ATTEMPTS + 1, {
          expected: `${ATTEMPTS} connection attempts (--max-attempts ${ATTEMPTS})`,
          received: `${n}`,
          where: `server on ${at(srv.port)}`,
          hint: 'count failed connects in a row; give up after --max-attempts of them',
        });
        const delays = srv.accepts.slice(1).map((t, k) => t - srv.accepts[k]!);
        ctx.log(`shipper ${i + 1}: delays between attempts ${JSON.stringify(delays)} ms`);
        const over = delays.findIndex((d) => d > CAP + TOL);
        expectTrue(over === -1, {
          expected: `every delay between attempts ≤ --backoff-cap-ms ${CAP} (+${TOL} ms tolerance)`,
          received: `delay ${over + 1} was ${delays[over]} ms (all: ${show(delays)})`,
          where: `server on ${at(srv.port)}`,
          hint: 'your Backoff TODO (lessons/day09/backoff.ts): ceiling() = min(cap, base·2^attempt), next() draws from [0, ceiling()]',
        });
        // No jitter: each delay sits at (or, on a busy machine, above) the top of its window. Full jitter
        // draws uniformly below it, so all seven landing in the top 20% has odds of 0.2^7 ≈ 1e-5. The
        // windows are taken from base·2^0; a schedule counting attempts from 1 is above them too.
        const windows = delays.map((_, k) => Math.min(CAP, BASE * 2 ** k));
        expectTrue(!delays.every((d, k) => d >= 0.8 * windows[k]!), {
          expected: 'random delays (full jitter): random(0, min(cap, base·2^attempt))',
          received: `every delay at the top of its window: ${show(delays)} vs windows ${show(windows)}`,
          where: `server on ${at(srv.port)}`,
          hint: 'without jitter every client retries in lockstep (a thundering herd): your Backoff.next() (lessons/day09/backoff.ts) draws each delay with this.random() from the whole window',
        });
        const sorted = [...delays].sort((x, y) => x - y);
        const median = sorted[sorted.length >> 1] ?? 0;
        expectTrue(!delays.every((d) => Math.abs(d - median) <= 25), {
          expected: 'random delays (full jitter)',
          received: `one fixed delay: ${show(delays)}`,
          where: `server on ${at(srv.port)}`,
          hint: 'your Backoff TODO (lessons/day09/backoff.ts): delay = random(0, min(cap, base·2^attempt)), not a constant',
        });
        seqs.push(delays);
      }
      const [a, b] = seqs as [number[], number[]];
      // Exponential: past the first attempts the window is 4–8× base, so some later delay exceeds 1.5× base.
      // (Full jitter may draw small delays: only both shippers staying under it fails, odds ≈ 1e-7.)
      const grows = (d: number[]) => d.slice(2).some((x) => x > BASE * 1.5);
      expectTrue(grows(a) || grows(b), {
        expected: `the windows to grow past --backoff-base-ms ${BASE} (some delay after the second > ${BASE * 1.5} ms)`,
        received: `shipper 1 ${show(a)}, shipper 2 ${show(b)}`,
        where: 'the two servers',
        hint: 'exponential: your Backoff.ceiling() (lessons/day09/backoff.ts) doubles the window per failed attempt up to the cap',
      });
      const k = Math.min(a.length, b.length);
      // Two independent full-jitter sequences all within max(20 ms, 10% of the window) of each other: odds ≈ 6e-5.
      const same = a
        .slice(0, k)
        .every((d, i) => Math.abs(d - b[i]!) <= Math.max(20, 0.1 * Math.min(CAP, BASE * 2 ** i)));
      expectTrue(!same, {
        expected: 'the two shippers to wait different delays',
        received: `shipper 1 ${show(a)}, shipper 2 ${show(b)}`,
        where: 'the two servers',
        hint: 'each shipper draws its own random delays (Backoff uses this.random, Math.random by default: do not seed it with a shared constant such as --seed)',
      });
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

interface ClosingServer {
  port: number;
  accepts: number[];
  close(): Promise<void>;
}

async function closingServer(): Promise<ClosingServer> {
  const accepts: number[] = [];
  const server = net.createServer((s) => {
    accepts.push(Date.now());
    s.on('error', () => {});
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
