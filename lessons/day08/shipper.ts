/**
 * Day 08 — TCP ingestion: the shipper.
 *
 * It writes records as NDJSON lines to one TCP connection, respecting backpressure: when
 * `socket.write()` returns false the kernel's send buffer is full, so we wait for 'drain' instead of
 * piling the rest of the file into memory.
 *
 * What it can NOT tell you is whether the receiver stored anything: a successful write only proves the
 * kernel took the bytes. The best day 08 can do is wait for the receiver to close its side after our
 * FIN (it does so once it has written everything we sent). Day 09 replaces this hope with acknowledgements.
 *
 * Run: npx tsx lessons/day08/shipper.ts --target 127.0.0.1:5140 --generate 100000
 */
import net from 'node:net';
import { once } from 'node:events';
import { parseCli, shipperOptions, requireOneSource, formatHostPort } from '../../shared/cli.ts';
import { openSource } from './input.ts';
import { createLog } from '../../shared/log.ts';
import { waitDrain } from '../../shared/net.ts';
import { announceDone, onShutdown } from '../../shared/process.ts';

const args = parseCli({
  name: 'lessons/day08/shipper.ts',
  summary: 'Day 08 shipper: sends NDJSON records (a file, stdin or generated) over one TCP connection.',
  options: shipperOptions('day08'),
  validate: requireOneSource,
});

const log = createLog('day08/shipper');
const started = performance.now();
let sent = 0;
let skipped = 0;
let bytes = 0;
let stopping = false;

let announced = false;
function done(extra: Record<string, unknown> = {}): void {
  if (announced) return;
  announced = true;
  const elapsedMs = performance.now() - started;
  announceDone({
    sent,
    acked: 0,
    dropped: 0,
    skipped,
    bytes,
    elapsedMs: Math.round(elapsedMs),
    recordsPerSec: Math.round(sent / (elapsedMs / 1000)),
    delivery: 'unacknowledged',
    ...extra,
  });
}

const socket = net.connect({ host: args.target.host, port: args.target.port, noDelay: true });

// SIGTERM/SIGINT: stop reading input; what was written is still delivered: half-close, wait for the
// receiver's FIN, then the done line (the main loop sees `stopping` and ends the same way).
const stop = onShutdown(
  async (reason) => {
    if (reason === 'finished') return;
    stopping = true;
    socket.end();
    if (!socket.destroyed) await once(socket, 'close').catch(() => undefined);
    done({ stoppedBy: reason, ...(socket.errored ? { error: 'connection closed with an error' } : {}) });
  },
  { log },
);
try {
  await once(socket, 'connect');
} catch (err) {
  log.error('cannot connect', { target: formatHostPort(args.target), error: (err as Error).message });
  done({ error: (err as Error).message });
  process.exit(1);
}
socket.on('error', (err) => log.error('connection error', { error: err.message }));
log.info('connected', { target: formatHostPort(args.target) });

const source = openSource(args, (reason, sample) => {
  skipped++;
  log.warn('input line skipped', { reason, sample: sample.toString('utf8', 0, 80) });
});

try {
  for await (const records of source) {
    if (stopping || socket.destroyed) break;
    const text = `${records.join('\n')}\n`;
    sent += records.length;
    bytes += Buffer.byteLength(text);
    // Backpressure: write() returning false means "stop until 'drain'".
    if (!socket.write(text)) await waitDrain(socket);
  }
  // Half-close: our FIN tells the receiver the stream is complete; it answers with its own FIN once it has
  // written everything, and only then do we know the bytes were not lost in its buffers.
  socket.end();
  if (!socket.destroyed) await once(socket, 'close');
} catch (err) {
  log.error('shipping failed', { error: (err as Error).message });
  done({ error: (err as Error).message });
  process.exit(1);
}
const cleanClose = !socket.errored;
done(cleanClose ? {} : { error: 'connection closed with an error' });
if (!cleanClose) process.exit(1);
await stop('finished');
