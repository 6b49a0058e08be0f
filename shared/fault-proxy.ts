/**
 * FaultProxy — a TCP pass-through that breaks the network on purpose.
 *
 * Day 09 promises "every record stored exactly once, whatever the network does". To test that promise
 * we put this proxy between a shipper and a receiver and make the network misbehave on demand:
 *
 *   cut()        close every connection with a FIN (an orderly close the peers did not ask for)
 *   reset()      close every connection with a RST (what a crashed peer or a middlebox looks like)
 *   stall(true)  keep connections open but forward nothing, either way: a half-open peer. TCP notices
 *                nothing, so only an application-level timeout (no ACK, no PONG) can [d09.8]
 *   delay(ms)    add latency each way
 *   refuse(true) close new connections at once (a receiver that is down, while the port stays the same)
 *   schedule()   do one of the above every N ms (a flaky link) [d09.3]
 *   retarget()   send new connections elsewhere (a receiver restarted on another port) [d09.4]
 *
 * It never buffers without bound: each direction holds at most `highWaterBytes` (plus one chunk) and
 * pauses its source past that, so TCP pushes back on the sender exactly as a slow peer would.
 *
 * Used by the graded checks, experiments and the chaos suite; `scripts/fault-proxy.ts` is its CLI.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';

export interface FaultProxyOptions {
  /** Address to listen on (default 127.0.0.1). */
  listenHost?: string;
  /** Port to listen on; 0 (default) = any free port. */
  listenPort?: number;
  targetHost?: string;
  targetPort: number;
  /** Bytes held per direction before its source is paused (default 256 KiB). */
  highWaterBytes?: number;
  /** After cut(), a connection whose peer does not close its side is destroyed after this long (default 1000 ms). */
  cutGraceMs?: number;
}

export type FaultAction = 'cut' | 'reset';

export interface ScheduleSpec {
  action: FaultAction;
  /** Period in ms. */
  everyMs: number;
}

export interface FaultProxyCounters {
  /** Connections accepted (refused ones included). */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Connections closed at once because refuse was on. */
  refused: number;
  /** Connections whose target could not be reached. */
  targetFailures: number;
  /** Bytes forwarded client → target. */
  bytesUp: number;
  /** Bytes forwarded target → client. */
  bytesDown: number;
  /** cut() calls (scheduled ones included). */
  cuts: number;
  /** reset() calls (scheduled ones included). */
  resets: number;
  /** Connections closed by cut() or reset(). */
  connectionsBroken: number;
}

export interface ConnectionInfo {
  id: number;
  /** Date.now() at accept. */
  at: number;
  /** Client address:port. */
  peer: string;
}

/** 'up' = client → target, 'down' = target → client. */
export type Direction = 'up' | 'down';

/** One direction of one connection: src → dst, with an optional delay, a stall switch and a bound. */
class Pipe {
  private readonly queue: Array<{ chunk: Buffer; due: number }> = [];
  private queued = 0;
  private waitingDrain = false;
  private timer: NodeJS.Timeout | undefined;
  private srcEnded = false;
  /** Both sockets start paused (pauseOnConnect, and the upstream until it connects). */
  private pausedByUs = true;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly proxy: FaultProxy,
    private readonly direction: Direction,
  ) {
    src.on('data', (chunk: Buffer) => {
      if (this.proxy.isDiscarding(src)) return;
      this.queue.push({ chunk, due: this.proxy.delayMs > 0 ? Date.now() + this.proxy.delayMs : 0 });
      this.queued += chunk.length;
      this.pump();
    });
    src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  /** Forwards what is due, unless stalled or the destination pushes back; then pauses or resumes the source. */
  pump(): void {
    if (!this.proxy.stalled && !this.waitingDrain && !this.dst.destroyed) {
      const now = Date.now();
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (head.due > now) {
          if (!this.timer) {
            this.timer = setTimeout(() => {
              this.timer = undefined;
              this.pump();
            }, head.due - now);
          }
          break;
        }
        this.queue.shift();
        this.queued -= head.chunk.length;
        const ok = this.dst.write(head.chunk);
        this.proxy.forwarded(this.direction, head.chunk.length);
        if (!ok) {
          this.waitingDrain = true;
          break;
        }
      }
      // A FIN travels after the bytes before it, like TCP's.
      if (this.srcEnded && this.queue.length === 0 && !this.dst.writableEnded && !this.dst.destroyed) this.dst.end();
    }
    if (this.proxy.isDiscarding(this.src)) return; // cut: the source is read and dropped until it closes
    const pause = this.proxy.stalled || this.queued >= this.proxy.highWaterBytes;
    if (pause && !this.pausedByUs) {
      this.pausedByUs = true;
      this.src.pause();
    } else if (!pause && this.pausedByUs) {
      this.pausedByUs = false;
      this.src.resume();
    }
  }

  /** Bytes held here now. */
  get bufferedBytes(): number {
    return this.queued;
  }

  discard(): void {
    this.queue.length = 0;
    this.queued = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface Conn {
  id: number;
  client: net.Socket;
  upstream: net.Socket;
  up: Pipe;
  down: Pipe;
  /** Set by cut(): bytes still arriving are read and thrown away (so the close stays a FIN, not a RST). */
  discarding: boolean;
  graceTimer?: NodeJS.Timeout;
}

/**
 * Events: 'connection' (ConnectionInfo) when a client is accepted, 'close' (id) when both of its sockets
 * are gone, 'fault' ({action, connections}) after each cut/reset, and 'forward' (direction, bytes) each
 * time bytes are passed on (emitted synchronously: e.g. kill a receiver the moment an ACK leaves it).
 */
export class FaultProxy extends EventEmitter {
  readonly listenHost: string;
  readonly highWaterBytes: number;
  private readonly cutGraceMs: number;
  private readonly requestedPort: number;
  private targetHost: string;
  private targetPort: number;
  private server: net.Server | undefined;
  private readonly conns = new Map<number, Conn>();
  private readonly discardingSockets = new WeakSet<net.Socket>();
  private readonly schedules = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private _stalled = false;
  private _refusing = false;
  private _delayMs = 0;
  private _port = 0;
  readonly counters: FaultProxyCounters = {
    connections: 0,
    open: 0,
    refused: 0,
    targetFailures: 0,
    bytesUp: 0,
    bytesDown: 0,
    cuts: 0,
    resets: 0,
    connectionsBroken: 0,
  };

  constructor(opts: FaultProxyOptions) {
    super();
    this.listenHost = opts.listenHost ?? '127.0.0.1';
    this.requestedPort = opts.listenPort ?? 0;
    this.targetHost = opts.targetHost ?? '127.0.0.1';
    this.targetPort = opts.targetPort;
    this.highWaterBytes = opts.highWaterBytes ?? 256 * 1024;
    this.cutGraceMs = opts.cutGraceMs ?? 1000;
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return this._port;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.emit('error', err));
    this._port = (server.address() as net.AddressInfo).port;
    return this._port;
  }

  get port(): number {
    return this._port;
  }

  get target(): { host: string; port: number } {
    return { host: this.targetHost, port: this.targetPort };
  }

  get stalled(): boolean {
    return this._stalled;
  }

  get refusing(): boolean {
    return this._refusing;
  }

  get delayMs(): number {
    return this._delayMs;
  }

  /** Connections open now. */
  get openConnections(): number {
    return this.conns.size;
  }

  /** Bytes held in the proxy now, both directions, all connections (bounded by highWaterBytes per pipe). */
  get bufferedBytes(): number {
    let n = 0;
    for (const c of this.conns.values()) n += c.up.bufferedBytes + c.down.bufferedBytes;
    return n;
  }

  /** @internal a pipe handed `bytes` to its destination socket */
  forwarded(direction: Direction, bytes: number): void {
    if (direction === 'up') this.counters.bytesUp += bytes;
    else this.counters.bytesDown += bytes;
    // Synchronous, right after the bytes were handed to the kernel: a listener can act "just after X was sent".
    if (this.listenerCount('forward') > 0) this.emit('forward', direction, bytes);
  }

  /** @internal */
  isDiscarding(socket: net.Socket): boolean {
    return this.discardingSockets.has(socket);
  }

  /** New connections go to this target; open ones keep theirs. */
  retarget(port: number, host = this.targetHost): void {
    this.targetHost = host;
    this.targetPort = port;
  }

  /** Stop (true) or restart (false) forwarding in both directions on every connection, open or new. */
  stall(on: boolean): void {
    this._stalled = on;
    for (const c of this.conns.values()) {
      c.up.pump();
      c.down.pump();
    }
  }

  /** Added latency each way for bytes read from now on. */
  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be ≥ 0 ms, got ${ms}`);
    this._delayMs = ms;
  }

  /** While on, new connections are closed as soon as they are accepted. */
  refuse(on: boolean): void {
    this._refusing = on;
  }

  /** Closes every open connection with a FIN on both sides; returns how many. */
  cut(): number {
    this.counters.cuts++;
    const n = this.conns.size;
    for (const c of this.conns.values()) {
      if (c.discarding) continue;
      c.discarding = true;
      this.counters.connectionsBroken++;
      c.up.discard();
      c.down.discard();
      for (const s of [c.client, c.upstream]) {
        this.discardingSockets.add(s);
        s.resume(); // keep reading (and dropping): closing with unread bytes would send a RST
        s.end();
      }
      c.graceTimer = setTimeout(() => {
        c.client.destroy();
        c.upstream.destroy();
      }, this.cutGraceMs);
    }
    this.emit('fault', { action: 'cut', connections: n });
    return n;
  }

  /** Closes every open connection with a RST on both sides; returns how many. */
  reset(): number {
    this.counters.resets++;
    const n = this.conns.size;
    for (const c of [...this.conns.values()]) {
      this.counters.connectionsBroken++;
      c.up.discard();
      c.down.discard();
      resetSocket(c.client);
      resetSocket(c.upstream);
    }
    this.emit('fault', { action: 'reset', connections: n });
    return n;
  }

  /** Runs `action` every `everyMs` until the returned function is called or the proxy stops. */
  schedule(spec: ScheduleSpec): () => void {
    if (!Number.isFinite(spec.everyMs) || spec.everyMs < 1)
      throw new RangeError(`schedule period must be ≥ 1 ms, got ${spec.everyMs}`);
    const timer = setInterval(() => (spec.action === 'cut' ? this.cut() : this.reset()), spec.everyMs);
    this.schedules.add(timer);
    return () => {
      clearInterval(timer);
      this.schedules.delete(timer);
    };
  }

  /** Stops every schedule, closes the listener and destroys every connection. */
  async stop(): Promise<void> {
    for (const t of this.schedules) clearInterval(t);
    this.schedules.clear();
    const server = this.server;
    this.server = undefined;
    for (const c of this.conns.values()) {
      c.up.discard();
      c.down.discard();
      c.client.destroy();
      c.upstream.destroy();
    }
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    const id = this.nextId++;
    this.counters.connections++;
    const peer = `${client.remoteAddress}:${client.remotePort}`;
    this.emit('connection', { id, at: Date.now(), peer } satisfies ConnectionInfo);
    client.on('error', () => {}); // the other side is torn down on 'close'
    if (this._refusing) {
      this.counters.refused++;
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.targetHost, port: this.targetPort, allowHalfOpen: true, noDelay: true });
    upstream.on('error', () => {});
    client.setNoDelay(true);
    upstream.pause(); // both sides start paused; the pipes resume them (unless stalled)
    const conn: Conn = {
      id,
      client,
      upstream,
      up: new Pipe(client, upstream, this, 'up'),
      down: new Pipe(upstream, client, this, 'down'),
      discarding: false,
    };
    this.conns.set(id, conn);
    this.counters.open++;
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      conn.up.pump();
      conn.down.pump();
    });
    let closed = 0;
    const onClose = (which: net.Socket, other: net.Socket) => (hadError: boolean) => {
      if (which === upstream && !connected) this.counters.targetFailures++;
      // One side gone. A reset (or a target that refused) is passed on as a reset. A side that sent its
      // FIN first is left to its pipe, which forwards the FIN after the bytes still queued. Anything else
      // (destroyed here: cut, stop) closes the other side too.
      if (!other.destroyed) {
        if (hadError && !conn.discarding) resetSocket(other);
        else if (conn.discarding || !which.readableEnded) other.destroy();
      }
      if (++closed === 2) {
        clearTimeout(conn.graceTimer);
        conn.up.discard();
        conn.down.discard();
        this.conns.delete(id);
        this.counters.open--;
        this.emit('close', id);
      }
    };
    client.once('close', onClose(client, upstream));
    upstream.once('close', onClose(upstream, client));
    // A connection that half-closed both ways is finished: close the sockets.
    const finishIfDone = () => {
      if (client.readableEnded && upstream.readableEnded && client.writableFinished && upstream.writableFinished) {
        client.destroy();
        upstream.destroy();
      }
    };
    for (const s of [client, upstream]) {
      s.on('end', finishIfDone);
      s.on('finish', finishIfDone);
    }
  }
}

function resetSocket(s: net.Socket): void {
  if (s.destroyed) return;
  // resetAndDestroy needs a connected handle; a socket still connecting is just destroyed.
  if (s.readyState === 'opening') s.destroy();
  else s.resetAndDestroy();
}
