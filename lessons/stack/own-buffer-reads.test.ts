import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { adopt } from './own-buffer-reads.ts';

describe('adopt: an accepted socket that reads into one reused buffer', () => {
  it('every byte arrives, in order, across many reads of a small buffer; end, write back and close work', async () => {
    const buffer = Buffer.alloc(1024); // smaller than what is sent: many reads reuse it
    const got: Buffer[] = [];
    let adopted: net.Socket | undefined;
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
      // a copy per read: the buffer is overwritten by the next one
      adopted = adopt(s, buffer, (chunk) => got.push(Buffer.from(chunk)));
      adopted?.on('end', () => adopted!.end('bye'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const want = Array.from({ length: 200 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}\n`).join('');
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
    client.end(want);
    let answer = '';
    client.on('data', (d: Buffer) => (answer += d.toString()));
    await new Promise((r) => client.once('close', r));
    expect(adopted).toBeDefined();
    expect(answer).toBe('bye');
    expect(Buffer.concat(got).toString()).toBe(want);
    expect(got.length).toBeGreaterThan(1);
    // the server counted the accepted socket as closed too: close() calls back (it would hang otherwise)
    await new Promise<void>((r) => server.close(() => r()));
  });
});
