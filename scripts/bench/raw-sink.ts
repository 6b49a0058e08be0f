/**
 * The ceiling for every TCP benchmark: a server that reads bytes and throws them away. Nothing we
 * build can beat loopback TCP into a sink that does no work; each lane is reported as a fraction of it.
 * Process contract: ready line first; on client end it closes its side (like a receiver that has
 * "written" everything), so the client's timing covers the whole transfer.
 */
import net from 'node:net';
import { opt, parseCli } from '../../shared/cli.ts';
import { announceReady, onShutdown } from '../../shared/process.ts';

const args = parseCli({
  name: 'scripts/bench/raw-sink.ts',
  summary: 'Discarding TCP sink: the loopback ceiling for benchmarks.',
  options: {
    host: opt.string('--host <addr>', 'address to listen on', '127.0.0.1'),
    port: opt.int('--port <n>', 'port (0 = any)', 0, { max: 65535 }),
    dataDir: opt.string('--data-dir <dir>', 'accepted and ignored, so every contender takes the same flags'),
  },
});
let bytes = 0;
const server = net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('data', (c: Buffer) => (bytes += c.length));
  s.on('end', () => s.end());
  s.on('error', () => {});
});
await new Promise<void>((r) => server.listen(args.port, args.host, r));
announceReady({
  role: 'receiver',
  lesson: 'bench',
  transport: 'tcp',
  host: args.host,
  port: (server.address() as net.AddressInfo).port,
});
onShutdown(() => {
  server.close();
  process.stderr.write(`raw-sink: ${bytes} bytes\n`);
  return Promise.resolve();
});
