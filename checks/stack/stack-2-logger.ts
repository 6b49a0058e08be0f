import { randInt } from '../harness/rng.ts';
import type { Check } from '../harness/types.ts';
import {
  HOST,
  SHORT_HOST,
  startSyslogLane,
  withStacks,
  waitForMsgs,
  expectFields,
  run,
  needProgram,
} from './support.ts';

export const stack_2: Check = {
  id: 'stack.2',
  title:
    'util-linux logger over UDP, TCP and TCP octet-counted, RFC 5424 and 3164: every message a record with the right level, host, service, msg and attrs',
  points: 20,
  timeoutMs: 60_000,
  run: withStacks(async (ctx) => {
    const logger = needProgram('logger', 'bsdutils');
    const { tcp, udp, host, dataDir } = await startSyslogLane(ctx);
    const n = randInt(ctx.rng, 1000, 9999);
    const sd = ['--sd-id', 'zoo@32473', '--sd-param', 'tiger="hungry"', '--sd-param', `n="${n}"`];
    const cases = [
      {
        args: ['--udp', '--port', String(udp), '--rfc5424', ...sd, '--msgid', 'M1'],
        msg: `udp 5424 ${n}`,
        transport: 'udp',
        rfc: 5424,
      },
      { args: ['--udp', '--port', String(udp), '--rfc3164'], msg: `udp 3164 ${n}`, transport: 'udp', rfc: 3164 },
      {
        args: ['--tcp', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M2'],
        msg: `tcp lf 5424 ${n}`,
        transport: 'tcp',
        rfc: 5424,
      },
      { args: ['--tcp', '--port', String(tcp), '--rfc3164'], msg: `tcp lf 3164 ${n}`, transport: 'tcp', rfc: 3164 },
      {
        args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc5424', ...sd, '--msgid', 'M3'],
        msg: `tcp octet 5424 ${n}`,
        transport: 'tcp',
        rfc: 5424,
      },
      {
        args: ['--tcp', '--octet-count', '--port', String(tcp), '--rfc3164'],
        msg: `tcp octet 3164 ${n}`,
        transport: 'tcp',
        rfc: 3164,
      },
    ];
    for (const c of cases)
      await run(logger, ['--server', host, ...c.args, '-t', 'lab-app', '--id=4242', '-p', 'local0.err', c.msg]);
    const got = await waitForMsgs(
      ctx,
      dataDir,
      cases.map((c) => c.msg),
      'one record per logger message',
    );
    for (const c of cases) {
      const r = got.get(c.msg)!;
      const what = `logger ${c.args.filter((a) => a.startsWith('--') && a !== '--port' && !a.startsWith('--sd')).join(' ')}`;
      expectFields(
        r,
        {
          level: 'error',
          service: 'lab-app',
          msg: c.msg,
          host: c.rfc === 5424 ? HOST : SHORT_HOST,
          'attrs.facility': 'local0',
          'attrs.severity': 'err',
          'attrs.procid': '4242',
          '_rx.transport': c.transport,
        },
        what,
      );
      if (c.rfc === 5424)
        expectFields(r, { 'attrs.sd.zoo@32473': { tiger: 'hungry', n: String(n) } }, `${what} (structured data)`);
    }
  }),
};
