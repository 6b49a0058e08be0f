/**
 * What the kernel knows about a UDP socket (Linux): `/proc/net/udp` and `/proc/net/udp6` list every UDP
 * socket with its receive queue and its `drops` counter — datagrams the kernel threw away because the
 * socket's receive buffer (SO_RCVBUF) was full when they arrived. The application never sees those
 * datagrams, so without this counter a receiver cannot tell "the network lost it" from "I was too slow
 * and the kernel dropped it" (day 10).
 *
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 *   12: 0100007F:1416 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 81234 2 0000… 0
 *
 * Addresses are hex in the kernel's byte order (little-endian words on x86); ports are hex.
 * On systems without procfs the reader returns null: callers report "unknown", never a fake 0.
 */
import { readFile } from 'node:fs/promises';

export interface ProcUdpRow {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** bytes waiting in the receive buffer */
  rxQueue: number;
  txQueue: number;
  inode: number;
  /** datagrams dropped by the kernel for this socket */
  drops: number;
}

/** Kernel byte order of a 32-bit word in /proc (little-endian on every platform Node runs on in practice). */
function wordBytes(hex8: string): number[] {
  const n = parseInt(hex8, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** `0100007F` → `127.0.0.1`; 32 hex digits → a compressed IPv6 text form (`::1`). */
export function procAddress(hex: string): string {
  if (hex.length === 8) return wordBytes(hex).join('.');
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  if (bytes.length !== 16) return hex;
  // IPv4-mapped (::ffff:a.b.c.d) reads better as IPv4.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff)
    return `::ffff:${bytes.slice(12).join('.')}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (best < 0) return text(groups);
  return `${text(groups.slice(0, best))}::${text(groups.slice(best + bestLen))}`;
}

/** Parses the text of /proc/net/udp or /proc/net/udp6 (the header line is skipped). */
export function parseProcNetUdp(text: string): ProcUdpRow[] {
  const rows: ProcUdpRow[] = [];
  // @solution [d10.4, d10.8] parse each socket row: local and remote address:port (hex: procAddress, parseInt 16), the tx:rx queues (hex), inode and drops (decimal); skip the header and anything else
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13 || !/^\d+:$/.test(f[0]!)) continue;
    const [la, lp] = f[1]!.split(':');
    const [ra, rp] = f[2]!.split(':');
    const [tx, rx] = f[4]!.split(':');
    if (la === undefined || lp === undefined || ra === undefined || rp === undefined) continue;
    rows.push({
      localAddress: procAddress(la),
      localPort: parseInt(lp, 16),
      remoteAddress: procAddress(ra),
      remotePort: parseInt(rp, 16),
      txQueue: parseInt(tx ?? '0', 16),
      rxQueue: parseInt(rx ?? '0', 16),
      inode: Number(f[9]),
      drops: Number(f[12]),
    });
  }
  // @end-solution
  return rows;
}

export interface KernelUdpCounters {
  /** datagrams the kernel dropped for this socket (receive buffer full, …) */
  drops: number;
  /** bytes in the socket's receive buffer right now */
  rxQueue: number;
  /** how many /proc rows matched (1 for a normally bound socket) */
  sockets: number;
}

const WILDCARD = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

/**
 * The kernel's counters for the UDP socket bound to `address:port` (as `socket.address()` reports it),
 * or null where /proc/net/udp is not available (not Linux) or no row matches.
 */
export async function readKernelUdpCounters(
  bound: { address: string; port: number; family: string },
  procRoot = '/proc',
): Promise<KernelUdpCounters | null> {
  const file = bound.family === 'IPv6' || bound.family === '6' ? 'udp6' : 'udp';
  let text: string;
  try {
    text = await readFile(`${procRoot}/net/${file}`, 'utf8');
  } catch {
    return null;
  }
  let drops = 0;
  let rxQueue = 0;
  let sockets = 0;
  // @solution [d10.4, d10.8] find our socket among the rows (our port, and our address or a wildcard bind) and add up its drops and rx queue
  // @stub void text; void WILDCARD;
  const want = bound.address.replace(/^::ffff:/, '');
  for (const row of parseProcNetUdp(text)) {
    if (row.localPort !== bound.port) continue;
    const addr = row.localAddress.replace(/^::ffff:/, '');
    // Two sockets cannot hold the same address and port (no SO_REUSEPORT here); a wildcard bind matches too.
    if (addr !== want && !WILDCARD.has(row.localAddress) && !WILDCARD.has(bound.address)) continue;
    drops += row.drops;
    rxQueue += row.rxQueue;
    sockets++;
  }
  // @end-solution
  return sockets ? { drops, rxQueue, sockets } : null;
}
