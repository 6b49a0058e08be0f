import path from 'node:path';
import { forwardingConfig, loggerToSocket, startRsyslog, type Rsyslog } from '../../tests/support/rsyslog-peer.ts';
import { expectTrue, fail, show, waitFor } from '../harness/assert.ts';
import type { PersistedRecord } from '../harness/persisted.ts';
import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  HOST,
  SHORT_HOST,
  startSyslogLane,
  withStacks,
  recordsIn,
  msgOf,
  expectFields,
  run,
  needProgram,
} from './support.ts';

export const stack_3: Check = {
  id: 'stack.3',
  title:
    'rsyslog forwarding with omfwd over TCP (octet-counted RFC 5424 and LF-framed traditional): every message a record with the right fields',
  points: 15,
  timeoutMs: 60_000,
  run: withStacks(async (ctx) => {
    needProgram('rsyslogd', 'rsyslog');
    const logger = needProgram('logger', 'bsdutils');
    const { tcp, dataDir } = await startSyslogLane(ctx);
    const dir = await ctx.tmp();
    const sock = path.join(dir, 'log.sock');
    let rsyslog: Rsyslog | undefined;
    try {
      rsyslog = await startRsyslog({
        dir,
        readyPath: sock,
        config: forwardingConfig(sock, tcp),
      });
    } catch (err) {
      fail({
        expected: 'rsyslogd -n -f <conf> to start',
        received: (err as Error).message,
        hint: 'apt-get install rsyslog',
      });
    }
    try {
      const n = randInt(ctx.rng, 1000, 9999);
      const msgs = [1, 2, 3].map((i) => `via rsyslog ${n}-${i}`);
      for (const [i, m] of msgs.entries()) await run(logger, loggerToSocket(sock, i + 1, m));
      let last: PersistedRecord[] = [];
      await waitFor(
        async () => {
          last = await recordsIn(dataDir);
          return msgs.every((m) => last.filter((r) => msgOf(r) === m).length === 2);
        },
        {
          timeoutMs: 15_000,
          what: 'each message twice (omfwd octet-counted RFC 5424 and omfwd LF traditional)',
          where: dataDir,
          signal: ctx.signal,
          received: () =>
            `${last.length} records: ${show(last.slice(-4).map((r) => r.raw))}; rsyslogd said: ${rsyslog?.output.join('').slice(-400) ?? ''}`,
          hint: 'rsyslog sends octet-counted and LF-framed messages to the same port: tell them apart per message (RFC 6587)',
        },
      );
      for (const [i, m] of msgs.entries()) {
        const got = last.filter((r) => msgOf(r) === m);
        for (const r of got) {
          expectFields(
            r,
            { level: 'warn', service: 'rs-app', 'attrs.facility': 'local3', 'attrs.severity': 'warning' },
            `rsyslog ${m}`,
          );
          expectTrue(r.record.host === HOST || r.record.host === SHORT_HOST, {
            expected: `host ${HOST} (or ${SHORT_HOST})`,
            received: show(r.record.host),
            where: `${r.file} line ${r.lineNo}`,
          });
        }
        const with5424 = got.filter((r) => (r.record.attrs as Record<string, unknown> | undefined)?.sd !== undefined);
        expectTrue(with5424.length === 1, {
          expected: `the RFC 5424 copy of ${show(m)} with its structured data in attrs.sd`,
          received: show(got.map((r) => r.raw)),
          hint: 'RSYSLOG_SyslogProtocol23Format carries [req@32473 n="…"]',
        });
        expectFields(
          with5424[0]!,
          { 'attrs.sd.req@32473': { n: String(i + 1) }, 'attrs.msgid': 'RQ' },
          `rsyslog RFC 5424 ${m}`,
        );
      }
    } finally {
      await rsyslog?.stop();
    }
  }),
};
