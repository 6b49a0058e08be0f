/**
 * Day 13 — TLS and mutual TLS: the shipper.
 *
 * Everything day 09 promised still holds (ACKs, resend after reconnect, dedup, backoff, spool,
 * --follow): the engine is lessons/day09/shipper-engine.ts, unchanged. What is new is HOW we connect:
 *
 *   1. TLS 1.2 at least, 1.3 by default [d13.5]
 *   2. the receiver's certificate is VERIFIED, always, against the CA in --ca: signed by that CA, valid
 *      today, and issued for the name we dialled [d13.2, d13.3, d13.6]. There is deliberately no flag to
 *      turn this off: a client that does not verify talks to whoever answers — an attacker in the middle
 *      gets an encrypted channel to US, and every record. That is encryption without authentication, and
 *      it is not TLS in any sense that matters (README: "Why verification is not optional").
 *   3. with --cert/--key we present a client certificate (mutual TLS): the receiver knows who we are [d13.7]
 *   4. a refused handshake is explained in words that say what to fix (tls-failures.ts)
 *
 * Run: npx tsx lessons/day13/shipper.ts --target 127.0.0.1:5145 --generate 200000 [--cert certs/client-shipper-1.crt --key certs/client-shipper-1.key]
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { opt, parseCli, type HostPort } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { LspShipper, lspShipperOptions, validateLspShipper } from '../day09/shipper-engine.ts';
import { shipperDirs } from '../day09/shipper-options.ts';
import { Batcher } from '../day11/batcher.ts';
import { ensureCerts } from '../../shared/tls/certs.ts';
import { explainClientFailure, isVerificationFailure } from './tls-failures.ts';

const PROGRAM = 'lessons/day13/shipper.ts';
const args = parseCli({
  name: PROGRAM,
  summary:
    "Day 13 shipper: day 09's acknowledged LSP/1 over TLS (1.2 minimum, 1.3 by default); the receiver is always verified against --ca; --cert/--key for mutual TLS.",
  options: {
    ...lspShipperOptions('day13'),
    certs: opt.string(
      '--certs <dir>',
      'development certificates: created here on the first run if absent (used for the --ca default)',
      'certs',
    ),
    ca: opt.string(
      '--ca <file>',
      "the CA that must have signed the receiver's certificate (default <certs>/ca.crt). Verification cannot be turned off",
    ),
    cert: opt.string(
      '--cert <file>',
      'our client certificate, PEM, for mutual TLS (with --key), e.g. certs/client-shipper-1.crt',
    ),
    key: opt.string('--key <file>', 'the private key of --cert'),
    servername: opt.string(
      '--servername <name>',
      "the name the receiver's certificate must carry (default: the --target host; also sent as SNI)",
    ),
    minTls: opt.choice(
      '--min-tls <version>',
      'oldest TLS version we accept (1.0 and 1.1 are never offered)',
      ['TLSv1.2', 'TLSv1.3'] as const,
      'TLSv1.2',
    ),
  },
  validate: (v) =>
    validateLspShipper(v) ??
    ((v.cert === undefined) !== (v.key === undefined) ? '--cert and --key go together' : undefined),
  epilog:
    'There is no --insecure: a TLS client that does not verify the server is not using TLS (lessons/day13/README.md).',
});

const log = createLog('day13/shipper');

// ---- 1. what we trust, and who we are -------------------------------------------------------------
// The development certificates are made on the first run when --ca is not given (shared/tls/certs.ts).
const caFile = args.ca ?? (await ensureCerts(args.certs)).ca.cert;

function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    process.stderr.write(
      `${PROGRAM}: ${flag}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
    );
    process.exit(2);
  }
}
const ca = readPem('--ca', caFile);
const identity =
  args.cert && args.key ? { cert: readPem('--cert', args.cert), key: readPem('--key', args.key) } : undefined;

// ---- 2. the connection: TLS, with the receiver verified ------------------------------------------
const tlsInfo = {
  version: null as string | null,
  cipher: null as string | null,
  serverSubject: null as string | null,
  serverSerial: null as string | null,
  serverNotAfter: null as string | null,
  handshakes: 0,
  failures: {} as Record<string, number>,
  lastError: null as string | null,
};
const target = `${args.target.host}:${args.target.port}`;
let lastExplained = { code: '', at: 0 };

function connectTls(t: HostPort): net.Socket {
  const servername = args.servername ?? (net.isIP(t.host) ? undefined : t.host); // SNI is a name, never an IP (RFC 6066)
  const s = tls.connect({
    host: t.host,
    port: t.port,
    ...(servername !== undefined ? { servername } : {}),
    // @solution [d13.3, d13.6] verify the receiver, always: trust only the CA in --ca, and refuse a certificate that does not verify (not signed by it, expired, or not issued for the name we dialled)
    // @stub rejectUnauthorized: false,
    ca,
    rejectUnauthorized: true,
    // @end-solution
    // @solution [d13.5] never offer TLS 1.0/1.1; 1.3 when the receiver has it
    // @stub minVersion: 'TLSv1',
    minVersion: args.minTls,
    maxVersion: 'TLSv1.3',
    // @end-solution
    ...(identity ?? {}),
  });
  s.setNoDelay(true);
  let secured = false;
  let received = false;
  s.once('secureConnect', () => {
    secured = true;
    tlsInfo.handshakes++;
    tlsInfo.version = s.getProtocol();
    tlsInfo.cipher = s.getCipher()?.standardName ?? s.getCipher()?.name ?? null;
    const peer = s.getPeerX509Certificate();
    if (peer && peer.serialNumber !== tlsInfo.serverSerial) {
      tlsInfo.serverSubject = peer.subject.split('\n').join(', ');
      tlsInfo.serverSerial = peer.serialNumber;
      tlsInfo.serverNotAfter = new Date(peer.validTo).toISOString();
      log.info('receiver verified', {
        subject: tlsInfo.serverSubject,
        serial: tlsInfo.serverSerial,
        notAfter: tlsInfo.serverNotAfter,
        version: tlsInfo.version,
        cipher: tlsInfo.cipher,
      });
    }
  });
  s.once('data', () => (received = true));
  // Registered before the engine's own listeners: the engine turns the error into its backoff reason,
  // we say what it means.
  s.on('error', (err: NodeJS.ErrnoException) => {
    if (secured && !isVerificationFailure(err.code)) return; // a connection lost after the handshake: day 09's business
    explain(
      err.code ?? 'TLS_ERROR',
      explainClientFailure(err, {
        target: servername ?? `${t.host}:${t.port}`,
        caFile,
        hasClientCert: identity !== undefined,
      }),
    );
  });
  s.once('close', () => {
    // mTLS in TLS 1.3: the receiver checks our certificate after OUR side of the handshake is done, so
    // a refusal looks like "connected, then closed before any answer" rather than a TLS error.
    if (secured && !received) {
      explain(
        'CLOSED_AFTER_HANDSHAKE',
        identity
          ? "the receiver closed the connection right after the TLS handshake: with --mtls it refuses a client certificate it cannot verify (is --cert signed by the receiver's --ca, and still valid?)"
          : 'the receiver closed the connection right after the TLS handshake: it probably requires a client certificate (--mtls on its side): give --cert and --key',
      );
    }
  });
  return s;
}

/** Counts a failed handshake and logs what it means (the same explanation at most every 5 s). */
function explain(code: string, message: string): void {
  tlsInfo.failures[code] = (tlsInfo.failures[code] ?? 0) + 1;
  tlsInfo.lastError = `${code}: ${message}`;
  const now = Date.now();
  if (code === lastExplained.code && now - lastExplained.at < 5000) return;
  lastExplained = { code, at: now };
  log.error(`TLS handshake with ${target} failed: ${message}`, { code });
}

// ---- 3. everything else is day 09's shipper ------------------------------------------------------
const shipper = new LspShipper({
  lesson: 'day13',
  args,
  log,
  ...shipperDirs(PROGRAM, args), // --state-dir, --spool, --follow's position
  connect: connectTls,
  batching: (o) => new Batcher<string>(o), // day 11's batches: full, bytes, or --batch-delay-ms
  doneExtra: () => ({ tls: { ...tlsInfo, ca: caFile, clientCert: args.cert ?? null } }),
});
process.exit(await shipper.run());
