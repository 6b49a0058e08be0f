import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { contractCheck, envReceiver, RECEIVER_BASE, runByEnv, SHIPPER_BASE } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

export const d09_1: Check = contractCheck({
  id: 'd09.1',
  title:
    'Process contract (ready line, --help, bad flag exit 2, LOGSTREAM_* env) for receiver and shipper; 100 records delivered by a shipper configured from the environment',
  points: 5,
  timeoutMs: 90_000,
  programs: {
    receiver: {
      base: RECEIVER_BASE,
      usage: ['--port', '--data-dir', '--max-payload-bytes', '--max-decoded-bytes', '--fsync'],
      bad: [
        ['--bogus'],
        ['--max-payload-bytes', 'lots'],
        ['--fsync', 'sometimes', '--fsync takes always | interval | never'],
      ],
    },
    shipper: {
      base: SHIPPER_BASE,
      usage: [
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
      ],
      bad: [
        ['--bogus'],
        ['--overflow', 'sometimes', '--overflow takes block | drop-oldest | drop-newest'],
        ['--ack-timeout-ms', 'soon'],
      ],
    },
  },
  runs: { timeoutMs: 30_000 },
  async then(ctx, { dataDir }) {
    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const { port } = await envReceiver(ctx, dataDir, {
      args: ['--stats-interval-ms', '100'],
      port: 'tcp',
      ready: {
        lesson: 'day09',
        transport: 'lsp1-tcp',
        defaultHost: true,
        shape: '{"event":"ready","role":"receiver","lesson":"day09","transport":"lsp1-tcp","host":…,"port":…}',
        transportHint: 'day 09 speaks LSP/1 binary frames over TCP: "lsp1-tcp"',
      },
    });

    // The shipper, configured by environment alone.
    const N = 100;
    const env = { LOGSTREAM_TARGET: at(port), LOGSTREAM_GENERATE: String(N), LOGSTREAM_STATE_DIR: await ctx.tmp() };
    const cmd = `LOGSTREAM_TARGET=${at(port)} LOGSTREAM_GENERATE=${N} LOGSTREAM_STATE_DIR=… shipper.ts`;
    const { done, json } = await runByEnv(ctx, 'shipper', env, {
      cmd,
      timeoutMs: 30_000,
      hint: 'the shipper reads LOGSTREAM_TARGET, LOGSTREAM_GENERATE, … and exits 0 once everything is ACKed; it can only finish when each ACK frees what it covers: your Outbox.ack (lessons/day09/outbox.ts)',
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
    const states = json.filter((j) => j['event'] === 'state');
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
});
