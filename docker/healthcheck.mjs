#!/usr/bin/env node
/**
 * The docker healthcheck of every long-running service (node:*-slim has no curl). Plain JavaScript so it
 * starts in ~50 ms without tsx; exit 0 = healthy, 1 = unhealthy (the reason on stderr), 2 = bad usage.
 *
 *   node docker/healthcheck.mjs stats <data-dir> [max-age-ms]
 *       a receiver is healthy when <data-dir>/stats.json was rewritten within max-age-ms (default 5000;
 *       receivers rewrite it every second, LSP1 §7) and the pid it names is alive in this container.
 *       No probe connection is made, so no lane counts a health probe as a client (a bare TLS connect
 *       would be a handshake failure on the dashboard).
 *   node docker/healthcheck.mjs http <url> [token-file]
 *       healthy when GET <url> answers 2xx within 3 s (the dashboard: /api/health). With a token file that
 *       exists, the request carries its token (Authorization: Bearer): a dashboard off loopback asks for it.
 *   node docker/healthcheck.mjs tcp <host> <port>
 *       healthy when a TCP connection to host:port opens within 3 s (a client's target is reachable).
 */
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const [mode, a, b] = process.argv.slice(2);
const TIMEOUT_MS = 3000;

function unhealthy(reason) {
  process.stderr.write(`unhealthy: ${reason}\n`);
  process.exit(1);
}

function usage(reason) {
  process.stderr.write(`docker/healthcheck.mjs: ${reason} (usage: stats <data-dir> [max-age-ms] | http <url> [token-file] | tcp <host> <port>)\n`);
  process.exit(2);
}

async function checkStats(dir, maxAgeRaw) {
  if (!dir) usage('stats needs a data dir');
  const maxAgeMs = maxAgeRaw === undefined ? 5000 : Number(maxAgeRaw);
  if (!Number.isFinite(maxAgeMs) || maxAgeMs <= 0) usage(`max-age-ms '${maxAgeRaw}' is not a positive number`);
  const file = join(dir, 'stats.json');
  let text;
  let mtimeMs;
  try {
    [text, { mtimeMs }] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
  } catch (err) {
    unhealthy(`${file}: ${err.code ?? err.message}`);
  }
  let stats;
  try {
    stats = JSON.parse(text);
  } catch {
    unhealthy(`${file} is not JSON`);
  }
  const updated = typeof stats.updatedAt === 'string' ? Date.parse(stats.updatedAt) : NaN;
  const ageMs = Date.now() - (Number.isFinite(updated) ? updated : mtimeMs);
  if (ageMs > maxAgeMs) unhealthy(`${file} last updated ${Math.round(ageMs)} ms ago (limit ${maxAgeMs} ms)`);
  if (typeof stats.pid === 'number') {
    try {
      process.kill(stats.pid, 0);
    } catch (err) {
      // EPERM: the process exists but belongs to someone else — alive.
      if (err.code !== 'EPERM') unhealthy(`pid ${stats.pid} from ${file} is not running`);
    }
  }
}

async function checkHttp(url, tokenFile) {
  if (!url) usage('http needs a url');
  const headers = {};
  if (tokenFile && existsSync(tokenFile)) headers.authorization = `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}`;
  let res;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    unhealthy(`GET ${url}: ${err.cause?.code ?? err.name}`);
  }
  if (!res.ok) unhealthy(`GET ${url}: HTTP ${res.status}`);
}

function checkTcp(host, portRaw) {
  const port = Number(portRaw);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) usage('tcp needs a host and a port 1-65535');
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(TIMEOUT_MS, () => unhealthy(`tcp ${host}:${port}: no connection within ${TIMEOUT_MS} ms`));
    sock.once('error', (err) => unhealthy(`tcp ${host}:${port}: ${err.code ?? err.message}`));
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
  });
}

if (mode === 'stats') await checkStats(a, b);
else if (mode === 'http') await checkHttp(a, b);
else if (mode === 'tcp') await checkTcp(a, b);
else usage(mode ? `unknown mode '${mode}'` : 'name a mode');
process.exit(0);
