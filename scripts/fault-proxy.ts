/**
 * `npx tsx scripts/fault-proxy.ts --listen 127.0.0.1:6141 --target 127.0.0.1:5141`: a TCP pass-through
 * that breaks the network on purpose (shared/fault-proxy.ts), so you can pull the plug by hand.
 *
 * Point a shipper at --listen, then type commands on stdin:
 *   cut              close every connection (FIN)        reset          close every connection (RST)
 *   stall on|off     forward nothing / forward again     delay N        add N ms latency each way
 *   refuse on|off    close new connections at once       stats          print the counters
 *   help
 * Prints a ready line first (role "proxy"), one JSON line per command on stdout, and the counters
 * ({"event":"counters",…}) on `stats` and on SIGTERM / SIGINT. The end of stdin does not stop it.
 */
import readline from 'node:readline';
import { InvalidArgumentError } from 'commander';
import { formatHostPort, opt, parseCli, parseHostPort, parseInteger, type HostPort } from '../shared/cli.ts';
import { FaultProxy } from '../shared/fault-proxy.ts';
import { createLog } from '../shared/log.ts';
import { announceReady, onShutdown } from '../shared/process.ts';

/** host:port where port 0 (any free port) is allowed. */
function parseListen(raw: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:]+):(\d+)$/.exec(raw);
  if (!m) throw new InvalidArgumentError(`'${raw}' is not host:port (IPv6 as [::1]:port; port 0 = any free port)`);
  return { host: m[1]!, port: parseInteger(m[2]!, 0, 65535) };
}

const args = parseCli({
  name: 'scripts/fault-proxy.ts',
  summary: 'A TCP pass-through that injects faults: cut, reset, stall (half-open), delay, refuse. Commands on stdin.',
  options: {
    listen: {
      flags: '--listen <host:port>',
      description: 'address to listen on (port 0 = any free port; default 127.0.0.1:0)',
      parse: parseListen,
    },
    target: {
      flags: '--target <host:port>',
      description: 'where to forward to (a receiver)',
      parse: parseHostPort,
      required: true,
    },
    cutEveryMs: opt.int('--cut-every-ms <n>', 'cut every connection (FIN) every N ms', undefined, { min: 1 }),
    resetEveryMs: opt.int('--reset-every-ms <n>', 'reset every connection (RST) every N ms', undefined, { min: 1 }),
    stall: opt.flag('--stall', 'start stalled: accept, keep open, forward nothing'),
    refuse: opt.flag('--refuse', 'start refusing: close new connections at once'),
    delayMs: opt.int('--delay-ms <n>', 'added latency each way', 0, { max: 600_000 }),
  },
  epilog: [
    'Commands on stdin: cut | reset | stall on|off | delay N | refuse on|off | stats | help',
    'Example: npx tsx scripts/fault-proxy.ts --listen 127.0.0.1:6141 --target 127.0.0.1:5141 --cut-every-ms 500',
  ].join('\n'),
});

const log = createLog('fault-proxy');
const listen = args.listen ?? { host: '127.0.0.1', port: 0 };
const proxy = new FaultProxy({
  listenHost: listen.host,
  listenPort: listen.port,
  targetHost: args.target.host,
  targetPort: args.target.port,
});
proxy.on('error', (err: Error) => log.error('listener error', { error: err.message }));
proxy.on('fault', (f: { action: string; connections: number }) =>
  f.connections > 0
    ? log.info(f.action, { connections: f.connections })
    : log.debug(f.action, { connections: f.connections }),
);
proxy.on('connection', (c: { id: number; peer: string }) =>
  log.debug('connection', { id: c.id, peer: c.peer, refused: proxy.refusing }),
);
if (args.stall) proxy.stall(true);
if (args.refuse) proxy.refuse(true);
if (args.delayMs > 0) proxy.delay(args.delayMs);
if (args.cutEveryMs !== undefined) proxy.schedule({ action: 'cut', everyMs: args.cutEveryMs });
if (args.resetEveryMs !== undefined) proxy.schedule({ action: 'reset', everyMs: args.resetEveryMs });

let port: number;
try {
  port = await proxy.start();
} catch (err) {
  log.error('cannot listen', { listen: formatHostPort(listen), error: (err as Error).message });
  process.exit(1);
}
announceReady({
  role: 'proxy',
  lesson: 'tools',
  transport: 'tcp',
  host: listen.host,
  port,
  target: formatHostPort(args.target),
});
log.info('forwarding', {
  listen: formatHostPort({ host: listen.host, port }),
  target: formatHostPort(args.target),
  stall: proxy.stalled,
  refuse: proxy.refusing,
  delayMs: proxy.delayMs,
});

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const state = () => ({ stalled: proxy.stalled, refusing: proxy.refusing, delayMs: proxy.delayMs, ...proxy.counters });
const onOff = (word: string | undefined): boolean | undefined =>
  word === 'on' ? true : word === 'off' ? false : undefined;
const HELP = 'commands: cut | reset | stall on|off | delay N | refuse on|off | stats | help';

/** One stdin command → one JSON line on stdout ({"event":"command",…} or {"event":"error",…}). */
function command(line: string): void {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (!cmd) return;
  switch (cmd) {
    case 'cut':
      emit({ event: 'command', command: 'cut', connections: proxy.cut() });
      return;
    case 'reset':
      emit({ event: 'command', command: 'reset', connections: proxy.reset() });
      return;
    case 'stall':
    case 'refuse': {
      const on = onOff(arg);
      if (on === undefined) break;
      if (cmd === 'stall') proxy.stall(on);
      else proxy.refuse(on);
      emit({ event: 'command', command: cmd, on });
      return;
    }
    case 'delay': {
      const ms = Number(arg);
      if (!/^\d+$/.test(arg ?? '') || !Number.isSafeInteger(ms)) break;
      proxy.delay(ms);
      emit({ event: 'command', command: 'delay', ms });
      return;
    }
    case 'stats':
      emit({ event: 'counters', ...state() });
      return;
    case 'help':
      process.stderr.write(`${HELP}\n`);
      return;
  }
  emit({ event: 'error', input: line.trim(), message: HELP });
}

readline.createInterface({ input: process.stdin, terminal: false }).on('line', command);

onShutdown(
  async () => {
    emit({ event: 'counters', ...state() });
    await proxy.stop();
  },
  { log },
);
