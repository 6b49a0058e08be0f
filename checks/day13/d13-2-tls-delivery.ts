import { readFileSync } from 'node:fs';
import { expectEqual, expectTrue, show, waitFor } from '../harness/assert.ts';
import { readStats } from '../harness/persisted.ts';
import { tail } from '../harness/process.ts';
import type { Check } from '../harness/types.ts';
import { doneOf, spawnShipper } from '../harness/kit/programs.ts';
import {
  type Rec,
  certsFor,
  startReceiver,
  withClients,
  helloOverTls,
  waitProgress,
  waitExit,
  shipperBase,
  rec,
  expectSeqs,
  tlsSection,
} from './support.ts';

export const d13_2: Check = {
  id: 'd13.2',
  exclusive: true,
  title: 'Records arrive over TLS 1.3 with the receiver verified; nothing lost across a receiver restart (kill -9)',
  // Given: day 09's delivery on the TLS sockets the lesson wires up; no TODO of today asks for it.
  given: true,
  points: 0,
  timeoutMs: 60_000,
  async run(ctx) {
    const certs = await certsFor(ctx);
    const first = await startReceiver(ctx, certs);
    const { dataDir, port } = first;
    await withClients(ctx, async (clients) => {
      // The check's own client verifies the receiver exactly as a shipper must: CA, name (IP SAN), dates.
      const { c } = await helloOverTls(ctx, clients, port, readFileSync(certs.ca.cert), {
        label: 'check client trusting ca.crt',
        name: 'check-d13.2',
        secure:
          'the receiver presents a certificate signed by the CA in --certs, valid, with 127.0.0.1 in its SAN (ensureCerts makes one)',
        ack: 'LSP/1 runs unchanged over the TLS socket: HELLO → ACK',
      });
      expectEqual(c.socket.getProtocol(), 'TLSv1.3', {
        what: 'the negotiated TLS version (both sides allow 1.3)',
        where: c.label,
        hint: "maxVersion TLSv1.3 (Node's default): 1.3 when both sides have it",
      });
      c.socket.destroy();
    });

    const sh = spawnShipper(
      ctx,
      await shipperBase(ctx, port, certs.ca.cert, ['--input', '-', '--batch-delay-ms', '5']),
      { stdin: true },
    );
    let next = 0;
    const feed = async (n: number) => {
      let text = '';
      for (let i = 0; i < n; i++) text += `${JSON.stringify(rec(`tls-${++next}`, ctx.rng))}\n`;
      await sh.write(text);
    };
    const HALF = 5000;
    await feed(HALF);
    await waitProgress(sh, `progress with acked = ${HALF}`, (j) => Number(j['acked']) >= HALF, 20_000);
    const s1 = await readStats(dataDir);
    expectEqual(tlsSection(s1)['version'], 'TLSv1.3', {
      what: "stats.json tls.version (the shipper's connection)",
      where: `${dataDir}/stats.json`,
      hint: 'write the negotiated version (tlsSocket.getProtocol()) into stats.json → tls.version',
    });
    first.rx.kill('SIGKILL');
    await first.rx.waitExit(5000);
    ctx.log('receiver killed (-9); feeding the second half while it is down');
    await feed(HALF);
    const second = await startReceiver(ctx, certs, { dataDir, port });
    sh.endInput();
    const exit = await waitExit(
      sh,
      30_000,
      'after the restart: reconnect (TLS handshake again), HELLO, resend what was not ACKed',
    );
    ctx.log(`shipper exit ${exit.exitCode}; done ${show(sh.lastEvent('done'), 600)}`);
    expectTrue(exit.exitCode === 0, {
      expected: `\`${sh.cmd}\` to exit 0 (everything acknowledged)`,
      received: `exit code ${exit.exitCode}; stderr tail:\n${tail(sh.stderrText(), 5, 10)}`,
      where: `pid ${sh.pid}`,
    });
    const done = doneOf(sh);
    expectEqual(done['acked'], 2 * HALF, { what: 'done line "acked"', where: `shipper done line ${show(done, 300)}` });
    const stream = Number(done['stream']);
    await expectSeqs(
      dataDir,
      stream,
      2 * HALF,
      "day 09's guarantees hold over TLS: resend after reconnect, dedup at the receiver",
    );
    let ok: unknown;
    await waitFor(
      async () => {
        ok = (tlsSection(await readStats(dataDir).catch(() => null))['handshakes'] as Rec | undefined)?.['ok'];
        return typeof ok === 'number' && ok >= 1;
      },
      {
        timeoutMs: 3000,
        what: `stats.json tls.handshakes.ok ≥ 1 on the restarted receiver (pid ${second.rx.pid})`,
        where: `${dataDir}/stats.json`,
        hint: 'count successful handshakes in stats.json → tls.handshakes.ok',
        received: () => `tls.handshakes.ok = ${show(ok)}`,
      },
    );
  },
};
