/**
 * Day 09 shipper: one connection to a receiver — the transport under the engine's state machine
 * (lessons/day09/shipper-engine.ts). It opens the socket (plain TCP or TLS: the handshake then ends at
 * 'secureConnect'), turns the bytes the receiver sends into frames, counts every write, and reports three
 * things back: open (time for HELLO), a frame, closed (with the first reason it learnt). What a frame means
 * — ACK, NACK, PING — and what to do when the connection is lost is the engine's business.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { HostPort } from '../../shared/cli.ts';
import type { LsError } from '../../shared/protocol/errors.ts';
import { FrameDecoder, type Frame } from '../../shared/protocol/frame.ts';

export type ConnectFn = (target: HostPort) => net.Socket;

export const defaultConnect: ConnectFn = (t) => net.connect({ host: t.host, port: t.port, noDelay: true });

export interface ConnectionEvents {
  /** connected (TLS: handshake done): the HELLO goes now */
  open(secure: boolean): void;
  frame(f: Frame): void;
  /** the socket is gone; `reason` is the first thing that went wrong, or the receiver's close */
  closed(reason: string): void;
}

/** Counters the connection keeps for the done line. */
export interface WireCounters {
  socketWrites: number;
  bytesWire: number;
}

export class ShipperConnection {
  /** false while the kernel's send buffer is full (until 'drain') */
  writable = true;
  private closeReason: string | undefined;
  private readonly decoder = new FrameDecoder();
  private gone = false;

  private constructor(
    private readonly socket: net.Socket,
    events: ConnectionEvents,
    private readonly counters: WireCounters,
  ) {
    const connectedEvent = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    socket.on(connectedEvent, () => {
      if (!this.gone) events.open(connectedEvent === 'secureConnect');
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.gone) return;
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.close(`receiver sent a bad frame: ${(err as LsError).code}`);
        return;
      }
      for (const f of frames) {
        if (this.gone) return;
        events.frame(f);
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeReason ??= err.code ? `${err.code}: ${err.message}` : err.message;
    });
    socket.on('close', () => {
      if (this.gone) return;
      this.gone = true;
      events.closed(this.closeReason ?? 'the receiver closed the connection');
    });
  }

  /**
   * Connects to `target`. A connect function that throws (e.g. a TLS option the runtime refuses) is as
   * good as a failed connect: `closed` follows on the next turn, and undefined is returned.
   */
  static open(
    connect: ConnectFn,
    target: HostPort,
    events: ConnectionEvents,
    counters: WireCounters,
  ): ShipperConnection | undefined {
    let s: net.Socket;
    try {
      s = connect(target);
    } catch (err) {
      setImmediate(() => events.closed(`connect failed: ${(err as Error).message}`));
      return undefined;
    }
    return new ShipperConnection(s, events, counters);
  }

  /** Writes one frame; false when the kernel buffer is full: wait for `onWritable`. */
  write(buf: Buffer): boolean {
    this.counters.socketWrites++;
    this.counters.bytesWire += buf.length;
    const ok = this.socket.write(buf);
    if (!ok) this.writable = false;
    return ok;
  }

  /** Calls `go` once the socket takes more (after a write returned false). */
  onWritable(go: () => void): void {
    this.socket.once('drain', () => {
      this.writable = true;
      if (!this.gone) go();
    });
  }

  /** Closes at once; `closed` reports `reason` (unless an earlier one is known). */
  close(reason: string): void {
    this.closeReason ??= reason;
    this.socket.destroy();
  }

  /** Ends politely (the done line is out): no `closed` event follows. */
  end(): void {
    this.gone = true;
    this.socket.end();
  }
}
