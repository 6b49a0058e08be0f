import { expectEqual, expectTrue, show } from '../harness/assert.ts';
import type { Check } from '../harness/types.ts';
import { freePort } from '../../shared/free-port.ts';
import { expectCliContract, expectReadyLine, runByEnv, startReceiverByEnv } from '../harness/kit/contract.ts';
import { at } from '../harness/kit/records.ts';

export const d09_1: Check = {
  id: 'd09.1',
  title:
    'Process contract (ready line, --help, bad flag exit 2, LOGSTREAM_* env) for receiver and shipper; 100 records delivered by a shipper configured from the environment',
  points: 5,
  timeoutMs: 90_000,
  async run(ctx) {
    const dataDir = await ctx.tmp();
    await expectCliContract(
      ctx,
      [
        {
          program: 'receiver',
          base: ['--data-dir', dataDir, '--port', '0'],
          usage: ['--port', '--data-dir', '--max-payload-bytes', '--max-decoded-bytes', '--fsync'],
          bad: [
            ['--bogus'],
            ['--max-payload-bytes', 'lots'],
            ['--fsync', 'sometimes', '--fsync takes always | interval | never'],
          ],
        },
        {
          program: 'shipper',
          base: async () => ['--generate', '1', '--state-dir', await ctx.tmp()],
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
      ],
      { timeoutMs: 30_000 },
    );

    // LOGSTREAM_<FLAG> from the environment, and the ready line itself.
    const port = await freePort();
    const rx = await startReceiverByEnv(ctx, ['--data-dir', dataDir, '--stats-interval-ms', '100'], {
      LOGSTREAM_PORT: String(port),
    });
    expectReadyLine(rx.ready, {
      lesson: 'day09',
      transport: 'lsp1-tcp',
      port,
      defaultHost: true,
      shape: '{"event":"ready","role":"receiver","lesson":"day09","transport":"lsp1-tcp","host":…,"port":…}',
      transportHint: 'day 09 speaks LSP/1 binary frames over TCP: "lsp1-tcp"',
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
};
