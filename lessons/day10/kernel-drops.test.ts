import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseProcNetUdp, procAddress, readKernelUdpCounters } from './kernel-drops.ts';

const V4 = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  123: 0100007F:1416 00000000:0000 07 00000000:00000A00 00:00000000 00000000  1000        0 81234 2 0000000012345678 17         
  456: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1111 2 0000000012345679 0          
`;
const V6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1762: 00000000000000000000000001000000:BC76 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 110951 2 000000009f8c66aa 3
`;

describe('parseProcNetUdp', () => {
  it('reads address, port, queues, inode and drops of each row', () => {
    expect(parseProcNetUdp(V4)).toEqual([
      {
        localAddress: '127.0.0.1',
        localPort: 5142,
        remoteAddress: '0.0.0.0',
        remotePort: 0,
        txQueue: 0,
        rxQueue: 2560,
        inode: 81234,
        drops: 17,
      },
      {
        localAddress: '0.0.0.0',
        localPort: 68,
        remoteAddress: '0.0.0.0',
        remotePort: 0,
        txQueue: 0,
        rxQueue: 0,
        inode: 1111,
        drops: 0,
      },
    ]);
    expect(parseProcNetUdp(V6)).toEqual([
      {
        localAddress: '::1',
        localPort: 0xbc76,
        remoteAddress: '::',
        remotePort: 0,
        txQueue: 0,
        rxQueue: 0,
        inode: 110951,
        drops: 3,
      },
    ]);
  });

  it('ignores the header and junk lines', () => {
    expect(parseProcNetUdp('')).toEqual([]);
    expect(parseProcNetUdp('sl local\nnot a row\n')).toEqual([]);
  });

  it('formats IPv6 and IPv4-mapped addresses', () => {
    expect(procAddress('00000000000000000000000001000000')).toBe('::1');
    expect(procAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1');
    expect(procAddress('B80D0120000000000000000001000000')).toBe('2001:db8::1');
  });
});

describe('readKernelUdpCounters', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('sums the row of the bound address and port; null when there is none or no /proc', async () => {
    const root = await mkdtemp(join(os.tmpdir(), 'udp-proc-'));
    dirs.push(root);
    await mkdir(join(root, 'net'));
    await writeFile(join(root, 'net', 'udp'), V4);
    await writeFile(join(root, 'net', 'udp6'), V6);
    expect(await readKernelUdpCounters({ address: '127.0.0.1', port: 5142, family: 'IPv4' }, root)).toEqual({
      drops: 17,
      rxQueue: 2560,
      sockets: 1,
    });
    expect(await readKernelUdpCounters({ address: '::1', port: 0xbc76, family: 'IPv6' }, root)).toEqual({
      drops: 3,
      rxQueue: 0,
      sockets: 1,
    });
    expect(await readKernelUdpCounters({ address: '127.0.0.1', port: 9, family: 'IPv4' }, root)).toBeNull();
    expect(
      await readKernelUdpCounters({ address: '127.0.0.1', port: 5142, family: 'IPv4' }, join(root, 'nope')),
    ).toBeNull();
  });

  it.runIf(existsSync('/proc/net/udp'))(
    'sees drops when a real socket with a tiny buffer is flooded (Linux)',
    async () => {
      const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 });
      const tx = dgram.createSocket('udp4');
      try {
        await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
        const bound = rx.address();
        // Nobody reads: the buffer fills after a datagram or two and the kernel drops the rest.
        rx.on('message', () => {});
        const before = await readKernelUdpCounters(bound);
        expect(before).not.toBeNull();
        const payload = Buffer.alloc(1000);
        // Send synchronously-queued datagrams faster than this process reads them (it is busy sending).
        await new Promise<void>((resolve, reject) => {
          let left = 200;
          for (let i = 0; i < 200; i++)
            tx.send(payload, bound.port, '127.0.0.1', (err) => (err ? reject(err) : --left === 0 && resolve()));
        });
        const after = await readKernelUdpCounters(bound);
        expect(after!.drops).toBeGreaterThan(before!.drops);
      } finally {
        rx.close();
        tx.close();
      }
    },
  );
});
