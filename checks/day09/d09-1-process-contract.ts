import { expectEqual, expectTrue, fail, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { exitedWith, stderrNames } from '../harness/kit/exit.ts';
import { at } from '../harness/kit/records.ts';

export const d09_1: Check = {
  id: 'd09.1',
  title:
    'Process contract (ready line, --help, bad flag exit 2, LOGSTREAM_* env) for receiver and shipper; 100 records delivered by a shipper configured from the environment',
  points: 5,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    const base = ['--data-dir', dataDir, '--port', '0'];
    const [rxHelp, rxBogus, rxBadSize, rxBadFsync] = await Promise.all([
      ctx.run('receiver', ['--help'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--bogus'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--max-payload-bytes', 'lots'], { timeoutMs: 30_000 }),
      ctx.run('receiver', [...base, '--fsync', 'sometimes'], { timeoutMs: 30_000 }),
    ]);
    exitedWith(rxHelp, 0, 'receiver --help', '--help prints usage on stdout and exits 0');
    const usage = rxHelp.stdout + rxHelp.stderr;
    for (const flag of ['--port', '--data-dir', '--max-payload-bytes', '--max-decoded-bytes', '--fsync']) {
      expectTrue(usage.includes(flag), {
        expected: `receiver usage naming ${flag}`,
        received: show(usage.slice(0, 400)),
        where: 'receiver --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(rxBogus, 2, 'receiver --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(rxBogus, '--bogus', 'receiver --bogus');
    exitedWith(
      rxBadSize,
      2,
      'receiver --max-payload-bytes lots',
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    stderrNames(rxBadSize, '--max-payload-bytes', 'receiver --max-payload-bytes lots');
    exitedWith(rxBadFsync, 2, 'receiver --fsync sometimes', '--fsync takes always | interval | never');
    stderrNames(rxBadFsync, '--fsync', 'receiver --fsync sometimes');

    const [st1, st2, st3] = [await ctx.tmp(), await ctx.tmp(), await ctx.tmp()];
    const [shHelp, shBogus, shOverflow, shAckTimeout] = await Promise.all([
      ctx.run('shipper', ['--help'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st1, '--bogus'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st2, '--overflow', 'sometimes'], { timeoutMs: 30_000 }),
      ctx.run('shipper', ['--generate', '1', '--state-dir', st3, '--ack-timeout-ms', 'soon'], { timeoutMs: 30_000 }),
    ]);
    exitedWith(shHelp, 0, 'shipper --help', '--help prints usage on stdout and exits 0');
    const shUsage = shHelp.stdout + shHelp.stderr;
    for (const flag of [
      '--target',
      '--state-dir',
      '--window-batches',
      '--queue-records',
      '--overflow',
      '--spool',
      '--backoff-base-ms',
      '--backoff-cap-ms',
      '--max-attempts',
      '--ack-timeout-ms',
      '--follow',
      '--progress-ms',
    ]) {
      expectTrue(shUsage.includes(flag), {
        expected: `shipper usage naming ${flag}`,
        received: show(shUsage.slice(0, 400)),
        where: 'shipper --help',
        hint: 'list every flag in --help',
      });
    }
    exitedWith(shBogus, 2, 'shipper --bogus', 'an unknown flag is an error: one stderr line naming it, exit 2');
    stderrNames(shBogus, '--bogus', 'shipper --bogus');
    exitedWith(shOverflow, 2, 'shipper --overflow sometimes', '--overflow takes block | drop-oldest | drop-newest');
    stderrNames(shOverflow, '--overflow', 'shipper --overflow sometimes');
    exitedWith(
      shAckTimeout,
      2,
      'shipper --ack-timeout-ms soon',
      'a bad value is an error: one stderr line naming the flag, exit 2',
    );
    stderrNames(shAckTimeout, '--ack-timeout-ms', 'shipper --ack-timeout-ms soon');

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await ctx.start('receiver', ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      env: { LOGSTREAM_PORT: String(port) },
    });
    ctx.log(`receiver started with LOGSTREAM_PORT=${port}: ready ${JSON.stringify(rx.ready)}`);
    const r = rx.ready;
    expectEqual(r['role'], 'receiver', {
      what: 'ready line "role"',
      where: 'receiver ready line',
      hint: '{"event":"ready","role":"receiver","lesson":"day09","transport":"lsp1-tcp","host":…,"port":…}',
    });
    expectEqual(r['lesson'], 'day09', { what: 'ready line "lesson"', where: 'receiver ready line' });
    expectEqual(r['transport'], 'lsp1-tcp', {
      what: 'ready line "transport"',
      where: 'receiver ready line',
      hint: 'day 09 speaks LSP/1 binary frames over TCP: "lsp1-tcp"',
    });
    expectEqual(r['host'], '127.0.0.1', { what: 'ready line "host" (default --host)', where: 'receiver ready line' });
    expectEqual(r['port'], port, {
      what: 'ready line "port" when started with LOGSTREAM_PORT',
      where: 'receiver ready line',
      hint: 'every flag also reads LOGSTREAM_<FLAG> from the environment (flag first)',
    });

    // The shipper, configured by environment alone.
    const N = 100;
    const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_GENERATE: String(N), LOGSTREAM_STATE_DIR: await ctx.tmp() };
    const res = await ctx.run('shipper', [], { env, timeoutMs: 30_000 });
    const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_STATE_DIR=… shipper.ts`;
    exitedWith(
      res,
      0,
      cmd,
      'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, … and exits 0 once everything is ACKed; it can only finish when each ACK frees what it covers: your Outbox.ack (lessons/day09/outbox.ts)',
    );
    const done = res.json.find((j) => j['event'] === 'done');
    if (!done)
      fail({
        expected: `a {"event":"done",…} line on the stdout of \`${cmd}\``,
        received: show(res.stdout.slice(-300) || '(empty stdout)'),
        where: 'shipper stdout',
      });
    expectEqual(done['acked'], N, { what: 'done line "acked"', where: `done line ${show(done, 300)}` });
    for (const k of ['sent', 'dropped', 'spooled', 'reconnects', 'stream']) {
      expectTrue(typeof done[k] === 'number', {
        expected: `done line field "${k}" (a number)`,
        received: show(done, 300),
        where: 'shipper done line',
        hint: '{"event":"done","sent","acked","dropped","spooled","reconnects","stream",…}',
      });
    }
    const states = res.json.filter((j) => j['event'] === 'state');
    const bad = states.find(
      (s) =>
        typeof s['from'] !== 'string' ||
        typeof s['to'] !== 'string' ||
        typeof s['reason'] !== 'string' ||
        typeof s['t'] !== 'number',
    );
    expectTrue(states.length > 0 && !bad, {
      expected: 'a {"event":"state","from","to","reason","t"} line on every state transition',
      received: states.length ? `a malformed one: ${show(bad)}` : 'no state lines',
      where: 'shipper stdout',
      hint: 'states: connecting, handshaking, streaming, backoff, draining, closed',
    });
    const seen = new Set(states.map((s) => s['to']));
    for (const s of ['connecting', 'handshaking', 'streaming|draining', 'closed']) {
      expectTrue(
        s.split('|').some((x) => seen.has(x)),
        {
          expected: `a state event into "${s.replace('|', '" or "')}" on a clean run`,
          received: `states reached: ${show([...seen])}`,
          where: 'shipper stdout',
          hint: 'connecting → handshaking → streaming → draining → closed (a source that is already exhausted may go straight to draining)',
        },
      );
    }
  },
};
