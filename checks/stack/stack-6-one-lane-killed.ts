import dgram from 'node:dgram';
import net from 'node:net';
import { expectTrue, show } from '../harness/assert.ts';
import { tail } from '../harness/process.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  DOWN_WITHIN_MS,
  alive,
  startStack,
  withStacks,
  laneOf,
  syslogPorts,
  dashboardOf,
  type Health,
  waitForMsgs,
} from './support.ts';

export const stack_6: Check = {
  id: 'stack.6',
  title:
    "killing one lane's process leaves the others running and taking records; the dashboard API reports that lane down within seconds",
  points: 10,
  timeoutMs: 60_000,
  run: withStacks(async (ctx) => {
    const stack = await startStack(ctx, { lanes: ['day08', 'syslog'], dashboard: true });
    const dashboard = dashboardOf(stack);
    const status = (h: Health | undefined, id: string) => h?.lanes.find((l) => l.name === id);
    await dashboard.waitHealth(
      ctx,
      'both lanes up on /api/health',
      (h) => ['day08', 'syslog'].every((id) => status(h, id)?.alive),
      10_000,
      'a lane is up when its stats.json is fresh and names a running pid',
    );
    const victim = laneOf(stack, 'day08');
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();
    await dashboard.waitHealth(
      ctx,
      'the killed lane (day08) reported down on /api/health',
      (h) => status(h, 'day08')?.alive === false,
      DOWN_WITHIN_MS,
      'the dashboard checks the pid stats.json names, and marks a lane whose stats are stale as down',
    );
    ctx.log(`day08 shown down ${Date.now() - killedAt} ms after the kill`);
    expectTrue(!stack.exited(), {
      expected: 'the stack to keep running after one lane died',
      received: `it exited; stderr:\n${tail(stack.stderr())}`,
      hint: 'laneExit: carry-on (stack.config.json)',
    });
    const s = status(await dashboard.health(), 'syslog');
    expectTrue(s?.alive === true && alive(laneOf(stack, 'syslog').pid), {
      expected: 'the syslog lane still up',
      received: show(s),
    });
    const laneUp = await dashboard.laneUp();
    expectTrue(
      laneUp.includes('logstream_lane_up{lane="day08"} 0') && laneUp.includes('logstream_lane_up{lane="syslog"} 1'),
      { expected: '/metrics: logstream_lane_up 0 for day08 and 1 for syslog', received: laneUp },
    );
    // and the survivor still takes records (a datagram: this check is about isolation, not framing)
    const msg = `after the kill ${randInt(ctx.rng, 1000, 9999)}`;
    const { udp, host } = syslogPorts(stack);
    const u = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) =>
        u.send(`<14>1 - stack-check stack-check - - - ${msg}`, udp, host, (err) => (err ? reject(err) : resolve())),
      );
      await waitForMsgs(ctx, laneOf(stack, 'syslog').dataDir, [msg], 'a record on the surviving lane');
    } finally {
      u.close();
    }
  }),
};
