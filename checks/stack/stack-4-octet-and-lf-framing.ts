import net from 'node:net';
import { expectTrue, show } from '../harness/assert.ts';
import { readRejects } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import { startSyslogLane, withStacks, connectTcp, write, waitForMsgs, expectFields, octet } from './support.ts';

export const stack_4: Check = {
  id: 'stack.4',
  title: 'octet-counted and LF-framed syslog on the same TCP port, on separate connections and mixed on one, all parse',
  points: 10,
  timeoutMs: 45_000,
  run: withStacks(async (ctx) => {
    const { tcp, host, dataDir } = await startSyslogLane(ctx);
    const n = randInt(ctx.rng, 1000, 9999);
    const msg = (kind: string, i: number) =>
      `<134>1 2026-11-26T10:00:0${i}.000Z web-${i} framing-app - - - ${kind} ${n} #${i}`;
    const octetConn = await connectTcp(host, tcp);
    const lfConn = await connectTcp(host, tcp);
    const mixedConn = await connectTcp(host, tcp);
    const texts: string[] = [];
    try {
      let o = '';
      let l = '';
      let m = '';
      for (let i = 1; i <= 5; i++) {
        o += octet(msg('octet', i));
        l += `${msg('lf', i)}\n`;
        m += i % 2 ? octet(msg('mixed', i)) : `${msg('mixed', i)}\n`;
        for (const k of ['octet', 'lf', 'mixed']) texts.push(`${k} ${n} #${i}`);
      }
      // written in seeded pieces: a frame may be split anywhere
      const pieces = async (s: net.Socket, text: string) => {
        const buf = Buffer.from(text);
        for (let at = 0; at < buf.length;) {
          const len = randInt(ctx.rng, 1, 40);
          await write(s, buf.subarray(at, at + len));
          at += len;
        }
      };
      await Promise.all([pieces(octetConn, o), pieces(lfConn, l), pieces(mixedConn, m)]);
      const got = await waitForMsgs(ctx, dataDir, texts, 'every message of the three connections');
      for (const t of texts) {
        const i = Number(t.slice(t.indexOf('#') + 1));
        expectFields(
          got.get(t)!,
          {
            level: 'info',
            service: 'framing-app',
            host: `web-${i}`,
            'attrs.facility': 'local0',
            ts: `2026-11-26T10:00:0${i}.000Z`,
          },
          t,
        );
      }
      const rejects = (await readRejects(dataDir)).rejects;
      expectTrue(rejects.length === 0, {
        expected: 'no rejects',
        received: show(rejects.map((r) => r.reject)),
        hint: 'a message that starts with a digit is octet-counted, one that starts with < is LF-framed (RFC 6587 §3.4)',
      });
    } finally {
      for (const s of [octetConn, lfConn, mixedConn]) s.destroy();
    }
  }),
};
