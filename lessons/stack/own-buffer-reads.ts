/**
 * TCP reads into one buffer of our own, reused for every read (issue 21.1: fewer allocations).
 *
 * A socket's 'data' event hands over a fresh Buffer per read: at ~100 MB/s that is hundreds of 64 KiB
 * ArrayBuffers a second, and V8 counts each as new external memory — which is what set off most of the
 * syslog lane's full garbage collections (a CPU profile put GC at ~10 % of its main thread). Node can
 * read into a buffer the program owns instead (the `onread` option: the callback gets the byte count,
 * and the bytes must be used before it returns). Node offers it for sockets it connects, not for
 * those a server accepts; so a server made with `pauseOnConnect` gives us the accepted socket before
 * its first read, and we move its handle into a socket made with `onread`. Where that is not possible
 * (another runtime, a TLS socket) the caller keeps 'data' events: `adopt` returns undefined.
 *
 * The parser the lane feeds copies whatever spans reads (SyslogStreamParser.push: "the chunk may be
 * reused once push returns"), so one buffer serves every connection: reads run one at a time.
 */
import net from 'node:net';

/** The private parts of net.Socket this relies on (present since Node 12's `onread`). */
interface HandleSocket {
  _handle: { useUserBuffer?: unknown } | null;
}

/**
 * A socket that reads into `buffer` and calls `onChunk(buffer.subarray(0, n))` per read, taking over the
 * handle of `accepted` (which must come from a server with `pauseOnConnect: true`, not yet read);
 * undefined when this runtime does not allow it (then use `accepted` with 'data' events).
 */
export function adopt(accepted: net.Socket, buffer: Buffer, onChunk: (chunk: Buffer) => void): net.Socket | undefined {
  const old = accepted as unknown as HandleSocket;
  const handle = old._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return undefined;
  old._handle = null;
  const socket = new net.Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: { buffer, callback: (n: number) => void onChunk(buffer.subarray(0, n)) },
  } as net.SocketConstructorOpts);
  // The server counts `accepted` as open until it closes: close it (it has no handle now) with the new one.
  socket.once('close', () => accepted.destroy());
  return socket;
}
