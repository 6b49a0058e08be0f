import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { encodeBatch } from '../../shared/protocol/batch.ts';
import { encodeHello } from '../../shared/protocol/frame.ts';
import { expectTrue, show, waitFor } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  STACK_READY_MS,
  type LaneInfo,
  type Stack,
  alive,
  availableLanes,
  startStack,
  withStacks,
  laneOf,
  syslogPorts,
  getJson,
  dashboardOf,
  connectTcp,
  write,
  waitForMsgs,
} from './support.ts';

function connectTls(host: string, port: number, ca: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `record` (one JSON line) into a lane the way its own clients do; returns the socket to close later. */
async function sendRecord(
  stack: Stack,
  lane: LaneInfo,
  record: string,
  msg: string,
  stream: number,
): Promise<{ close(): void }> {
  const none = { close() {} };
  if (lane.transport === 'syslog') {
    const p = syslogPorts(stack);
    const s = await connectTcp(p.host, p.tcp);
    await write(s, `<14>1 ${new Date().toISOString()} stack-check stack-check - - - ${msg}\n`);
    return { close: () => s.destroy() };
  }
  if (lane.transport === 'tcp') {
    const s = await connectTcp(lane.host, lane.port);
    await write(s, `${record}\n`);
    return { close: () => s.destroy() };
  }
  const frames = Buffer.concat([
    encodeHello(stream, { name: `check-${lane.id}` }),
    encodeBatch({ stream, seq: 1, records: [record] }),
  ]);
  if (lane.transport === 'lsp1-udp') {
    const u = dgram.createSocket(net.isIPv6(lane.host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) =>
      u.send(encodeBatch({ stream, seq: 1, records: [record] }), lane.port, lane.host, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    u.close();
    return none;
  }
  if (lane.transport === 'lsp1-tls') {
    const s = await connectTls(lane.host, lane.port, readFileSync(path.join(stack.certsDir, 'ca.crt')));
    await write(s, frames);
    return { close: () => s.destroy() };
  }
  const s = await connectTcp(lane.host, lane.port);
  await write(s, frames);
  return { close: () => s.destroy() };
}

export const stack_1: Check = {
  id: 'stack.1',
  title:
    'the stack comes up with every lane ready and shown up; each lane takes a record into its data dir and onto the dashboard API',
  points: 30,
  timeoutMs: STACK_READY_MS + 60_000,
  exclusive: true,
  run: withStacks(async (ctx) => {
    const want = availableLanes(path.dirname(ctx.lessonDir));
    const stack = await startStack(ctx, { lanes: want, dashboard: true });
    const missing = want.filter((id) => !stack.lanes[id]);
    expectTrue(missing.length === 0, {
      expected: `every lane in the ready line: ${want.join(', ')}`,
      received: `missing ${missing.join(', ')}`,
      hint: 'the launcher prints its ready line once every lane is up',
    });
    for (const l of Object.values(stack.lanes)) {
      expectTrue(Number.isInteger(l.port) && l.port > 0 && alive(l.pid), {
        expected: `lane ${l.id}: a bound port and a running pid`,
        received: show(l),
      });
    }
    const dashboard = dashboardOf(stack);
    const dash = dashboard.url;
    // every lane up on the dashboard: stats.json fresh and its pid alive
    await dashboard.waitHealth(
      ctx,
      'every lane up on /api/health',
      (h) => h.lanes.length === want.length && h.lanes.every((l) => l.alive),
      10_000,
      'a lane is up when its stats.json is rewritten (at least every second, COURSE.md (what a receiver writes)) and names a running pid',
    );
    const laneUp = await dashboard.laneUp();
    for (const id of want) {
      expectTrue(laneUp.includes(`logstream_lane_up{lane="${id}"} 1`), {
        expected: `logstream_lane_up{lane="${id}"} 1 in /metrics`,
        received: laneUp,
      });
    }

    // one record into each lane, the way its clients send it
    const nonce = randInt(ctx.rng, 1e6, 1e7 - 1);
    const sent = new Map<string, string>();
    const open: Array<{ close(): void }> = [];
    try {
      for (const id of want) {
        const lane = laneOf(stack, id);
        const msg = `stack check ${id} ${nonce}`;
        const record = JSON.stringify({ ts: new Date().toISOString(), level: 'info', service: 'stack-check', msg });
        open.push(await sendRecord(stack, lane, record, msg, randInt(ctx.rng, 1, 0x7fffffff)));
        sent.set(id, msg);
      }
      for (const [id, msg] of sent)
        await waitForMsgs(ctx, laneOf(stack, id).dataDir, [msg], `lane ${id}: the record in its data dir`);
    } finally {
      for (const s of open) s.close();
    }
    for (const [id, msg] of sent) {
      let got: unknown;
      await waitFor(
        async () => {
          const body = await getJson<{ records: Array<{ record: { msg?: unknown } }> }>(
            dash,
            `api/logs?lane=${id}&limit=100`,
          );
          got = body.records.map((r) => r.record.msg).slice(0, 5);
          return body.records.some((r) => r.record.msg === msg);
        },
        {
          timeoutMs: 5000,
          what: `lane ${id}: the record on /api/logs?lane=${id}`,
          signal: ctx.signal,
          received: () => show(got),
          hint: 'the dashboard reads the newest records files of the lane',
        },
      );
    }
    // Ctrl-C: everything stops, cleanly
    const exit = await stack.stop();
    expectTrue(exit.exitCode === 0, {
      expected: 'the stack to exit 0 on SIGTERM (every lane flushed and exited 0)',
      received: `exit ${exit.exitCode ?? exit.signal} after ${exit.ms} ms`,
      where: tail(stack.stderr()),
    });
    const left = Object.values(stack.lanes).filter((l) => alive(l.pid));
    expectTrue(left.length === 0, {
      expected: 'no lane process left after the stack exits',
      received: show(left.map((l) => `${l.id} pid ${l.pid}`)),
    });
  }),
};
