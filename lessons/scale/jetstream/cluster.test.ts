// NatsCluster against a real nats-server: a route port taken between "picked free" and "bound" (another
// test, another process) makes a node exit with "address already in use"; the cluster starts again on
// fresh ports instead of waiting out its ready timeout (the flake it fixes: chaos.test.ts's n3 "bind:
// address already in use" while other test files took ports).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../shared/free-port.ts';
import { needPeers } from '../../../tests/support/peers.ts';
import { NatsCluster } from './cluster.ts';

const nats = needPeers('nats-server');

describe.skipIf(nats.skip)('NatsCluster.start', () => {
  let dir: string;
  let squatter: net.Server;
  let taken: number;
  beforeAll(async () => {
    nats.assert();
    dir = await mkdtemp(path.join(os.tmpdir(), 'nats-cluster-'));
    squatter = net.createServer((sock) => sock.destroy()); // holds the port, serves nobody
    await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
    taken = (squatter.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => squatter.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('a node whose picked port was taken meanwhile: all nodes start again on fresh ports', async () => {
    let picks = 0;
    // the first port handed out (node 1's client port) is one another process holds
    const pickPort = async (host: string) => (++picks === 1 ? taken : freePort('tcp', host));
    const cluster = new NatsCluster({ size: 1, dir, baseHttpPort: -1, pickPort });
    try {
      await cluster.start(20_000);
      expect(picks).toBeGreaterThan(2); // picked again after the failed first start
      expect(cluster.nodes[0]!.clientPort).not.toBe(taken);
      await cluster.waitReady(5000);
    } finally {
      await cluster.stop(500);
    }
  }, 40_000);

  it('a fixed port that is taken: a clear error naming the node and its log, not a ready timeout', async () => {
    const cluster = new NatsCluster({ size: 1, dir, baseHttpPort: -1, basePort: taken, baseClusterPort: taken });
    const t0 = Date.now();
    await expect(cluster.start(20_000)).rejects.toThrow(/n1 exited while starting.*address already in use/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await readFile(cluster.nodes[0]!.logPath, 'utf8')).toMatch(/address already in use/);
  }, 40_000);
});
