/**
 * Development certificates for the TLS lessons (day 13) and their checks: a private CA, a server
 * certificate for localhost / 127.0.0.1 / ::1, client certificates for mTLS, and the "bad" certificates
 * the checks need to prove that verification is really on (an unrelated CA with its own client, an
 * expired server certificate, one for the wrong host name).
 *
 * Built on `selfsigned` (pure JS on WebCrypto: no openssl binary needed, so it runs the same in CI and
 * in the docker image). Keys are ECDSA P-256 and every certificate is signed with SHA-256.
 * Private keys are written with mode 0600; every file is written to a temp name and renamed, so a
 * reader never sees half a PEM.
 *
 *   const certs = await ensureCerts('certs');       // idempotent: creates on first run, reuses after
 *   tls.createServer({ ca: readFileSync(certs.ca.cert), cert: …certs.server.cert, key: …certs.server.key })
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { generate } from 'selfsigned';
import { CodedError } from '../errors.ts';

export type CertErrorCode = 'LS_ERR_CERT_NAME' | 'LS_ERR_CERT_CA_MISSING' | 'LS_ERR_CERT_LOCK' | 'LS_ERR_CERT_PARSE';

export class CertError extends CodedError {
  readonly code: CertErrorCode;
  constructor(code: CertErrorCode, message: string, opts?: { cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'CertError';
    this.code = code;
  }
}

/** Paths of one certificate and its private key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** What `ensureCerts` guarantees exists under its directory. */
export interface CertSet {
  dir: string;
  /** the development CA every good certificate chains to */
  ca: CertFiles;
  /** CN=localhost, SAN DNS:localhost, IP:127.0.0.1, IP:::1, signed by the dev CA */
  server: CertFiles;
  /** client certificates for mTLS, by common name (default: shipper-1) */
  clients: Record<string, CertFiles>;
  /** an unrelated CA: a server trusting only `ca` must refuse what it signed */
  otherCa: CertFiles;
  /** CN=shipper-1 — the right name — but signed by `otherCa` */
  otherClient: CertFiles;
  /** signed by the dev CA, SANs right, but its validity ended yesterday */
  expiredServer: CertFiles;
  /** signed by the dev CA, valid, but for DNS:wrong-host.invalid only (hostname verification) */
  wrongHostServer: CertFiles;
}

export interface IssueOptions {
  /** file base name in outDir (`<name>.crt`, `<name>.key`) */
  name?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** base name of the signing CA's files in caDir (default `ca`) */
  caName?: string;
}

export interface ServerCertOptions extends IssueOptions {
  /** subject common name (default localhost) */
  cn?: string;
  dns?: string[];
  ips?: string[];
}

export interface ClientCertOptions extends IssueOptions {
  /** subject common name: the client identity mTLS reports (e.g. shipper-1) */
  cn: string;
}

/** What was issued: the files and the facts a rotation test compares. */
export interface IssuedCert extends CertFiles {
  /** upper-case hex, as X509Certificate.serialNumber reports it; random, fresh for every issue */
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint256: string;
}

const DAY_MS = 86_400_000;
/** Backdating absorbs small clock differences between containers. */
const BACKDATE_MS = 3_600_000;
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
/** ensureCerts re-issues a leaf that expires sooner than this. */
const RENEW_BEFORE_MS = 7 * DAY_MS;
const DEFAULT_CLIENTS = ['shipper-1'];
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkName(what: string, name: string): void {
  if (!SAFE_NAME.test(name))
    throw new CertError(
      'LS_ERR_CERT_NAME',
      `${what} '${name}' must be 1-64 characters of A-Z a-z 0-9 . _ - (it becomes a file name)`,
    );
}

function files(dir: string, base: string): CertFiles {
  return { cert: join(dir, `${base}.crt`), key: join(dir, `${base}.key`) };
}

/** The paths ensureCerts uses under `dir` (nothing is read or written). */
export function certSetPaths(dir: string, clients: readonly string[] = DEFAULT_CLIENTS): CertSet {
  const abs = resolve(dir);
  const byName: Record<string, CertFiles> = {};
  for (const c of clients) {
    checkName('client name', c);
    byName[c] = files(abs, `client-${c}`);
  }
  return {
    dir: abs,
    ca: files(abs, 'ca'),
    server: files(abs, 'server'),
    clients: byName,
    otherCa: files(abs, 'other-ca'),
    otherClient: files(abs, 'other-client'),
    expiredServer: files(abs, 'server-expired'),
    wrongHostServer: files(abs, 'server-wrong-host'),
  };
}

// ---------------------------------------------------------------------------------------------
// Writing

async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode });
  // the mode given to writeFile is filtered by the umask: set it exactly
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function writePair(out: CertFiles, pem: { cert: string; private: string }): Promise<void> {
  await mkdir(dirname(out.cert), { recursive: true });
  // key first: a reader that sees the certificate then also finds its key
  await writeAtomic(out.key, pem.private, 0o600);
  await writeAtomic(out.cert, pem.cert, 0o644);
}

function validity(opts: IssueOptions, days: number): { notBeforeDate: Date; notAfterDate: Date } {
  const notBeforeDate = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  const notAfterDate = opts.notAfter ?? new Date(notBeforeDate.getTime() + BACKDATE_MS + days * DAY_MS);
  return { notBeforeDate, notAfterDate };
}

function describe(out: CertFiles, pem: string): IssuedCert {
  const x = new X509Certificate(pem);
  return {
    ...out,
    serial: x.serialNumber,
    subject: x.subject,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    fingerprint256: x.fingerprint256,
  };
}

async function readSerial(path: string): Promise<string | undefined> {
  try {
    return new X509Certificate(await readFile(path)).serialNumber;
  } catch {
    return undefined;
  }
}

async function loadCa(caDir: string, caName: string): Promise<{ key: string; cert: string }> {
  const f = files(caDir, caName);
  try {
    const [cert, key] = await Promise.all([readFile(f.cert, 'utf8'), readFile(f.key, 'utf8')]);
    return { cert, key };
  } catch (err) {
    throw new CertError(
      'LS_ERR_CERT_CA_MISSING',
      `no CA '${caName}' in ${caDir} (need ${caName}.crt and ${caName}.key; run npm run certs)`,
      { cause: err },
    );
  }
}

/** Creates a self-signed CA (`<name>.crt`, `<name>.key`) in `dir`. */
export async function createCa(
  dir: string,
  opts: { name?: string; cn?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<IssuedCert> {
  const name = opts.name ?? 'ca';
  checkName('CA name', name);
  const out = files(resolve(dir), name);
  const pem = await generate(
    [
      { name: 'commonName', value: opts.cn ?? 'LogStream Lab Dev CA' },
      { name: 'organizationName', value: 'LogStream Lab' },
    ],
    {
      keyType: 'ec',
      curve: 'P-256',
      algorithm: 'sha256',
      ...validity(opts, CA_DAYS),
      extensions: [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
      ],
    },
  );
  await writePair(out, pem);
  return describe(out, pem.cert);
}

/**
 * Issues `<outDir>/<name>.crt|.key` (default `server`) signed by `<caDir>/<caName>.crt|.key`, for
 * localhost, 127.0.0.1 and ::1 unless told otherwise. Every call makes a new key and a new random
 * serial, never the serial of the certificate it replaces: a rotation test can tell old from new.
 */
export async function issueServerCert(
  caDir: string,
  outDir: string,
  opts: ServerCertOptions = {},
): Promise<IssuedCert> {
  const name = opts.name ?? 'server';
  checkName('certificate name', name);
  const ca = await loadCa(resolve(caDir), opts.caName ?? 'ca');
  const out = files(resolve(outDir), name);
  const dns = opts.dns ?? ['localhost'];
  const ips = opts.ips ?? ['127.0.0.1', '::1'];
  return issueLeaf(out, ca, opts.cn ?? 'localhost', opts, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
    },
  ]);
}

/** Issues a client certificate (`client-<cn>` by default) for mTLS, signed by the CA in caDir. */
export async function issueClientCert(caDir: string, outDir: string, opts: ClientCertOptions): Promise<IssuedCert> {
  checkName('client name', opts.cn);
  const name = opts.name ?? `client-${opts.cn}`;
  checkName('certificate name', name);
  const ca = await loadCa(resolve(caDir), opts.caName ?? 'ca');
  const out = files(resolve(outDir), name);
  return issueLeaf(out, ca, opts.cn, opts, [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
}

type Extensions = NonNullable<Parameters<typeof generate>[1]>['extensions'];

async function issueLeaf(
  out: CertFiles,
  ca: { key: string; cert: string },
  cn: string,
  opts: IssueOptions,
  extensions: Extensions,
): Promise<IssuedCert> {
  const previous = await readSerial(out.cert);
  for (;;) {
    const pem = await generate(
      [
        { name: 'commonName', value: cn },
        { name: 'organizationName', value: 'LogStream Lab' },
      ],
      {
        keyType: 'ec',
        curve: 'P-256',
        algorithm: 'sha256',
        ...validity(opts, LEAF_DAYS),
        ca,
        extensions,
      },
    );
    const issued = describe(out, pem.cert);
    // 72 random bits: a repeat is all but impossible, but "a new serial" is a promise, so keep it
    if (issued.serial === previous) continue;
    await writePair(out, pem);
    return issued;
  }
}

// ---------------------------------------------------------------------------------------------
// ensureCerts: the one call every lane that needs certificates makes

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function pairOk(f: CertFiles, minValidUntil?: number): Promise<boolean> {
  if (!(await exists(f.key))) return false;
  try {
    const x = new X509Certificate(await readFile(f.cert));
    return minValidUntil === undefined || new Date(x.validTo).getTime() > minValidUntil;
  } catch {
    return false;
  }
}

/** Which parts of the set are missing (or, for the good leaves, about to expire). */
async function missingParts(set: CertSet): Promise<{ ca: boolean; other: boolean; leaves: string[] }> {
  const soon = Date.now() + RENEW_BEFORE_MS;
  const ca = !(await pairOk(set.ca, soon));
  const other = !(await pairOk(set.otherCa, soon)) || !(await pairOk(set.otherClient, soon));
  const leaves: string[] = [];
  if (ca || !(await pairOk(set.server, soon))) leaves.push('server');
  if (ca || !(await pairOk(set.wrongHostServer, soon))) leaves.push('server-wrong-host');
  if (ca || !(await pairOk(set.expiredServer))) leaves.push('server-expired');
  for (const [cn, f] of Object.entries(set.clients)) if (ca || !(await pairOk(f, soon))) leaves.push(`client:${cn}`);
  return { ca, other, leaves };
}

/** A cross-process lock: mkdir is atomic. Parallel test workers may all call ensureCerts at once. */
async function withLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${dir}.lock`;
  await mkdir(dirname(lock), { recursive: true });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // a holder that died mid-way leaves its lock behind: generation takes well under a second
      const st = await stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 20_000) await rm(lock, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new CertError(
          'LS_ERR_CERT_LOCK',
          `could not take ${lock} within 30 s (remove it if no certs run is going on)`,
        );
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure the full development set exists under `dir` (default layout: see CertSet) and returns
 * its paths. The first call creates it; later calls only check (a few file reads), re-issuing a leaf
 * that is missing or expires within a week. Losing the CA re-issues everything it signed.
 * Safe to call from several processes at once.
 */
export async function ensureCerts(dir = 'certs', opts: { clients?: readonly string[] } = {}): Promise<CertSet> {
  const set = certSetPaths(dir, opts.clients ?? DEFAULT_CLIENTS);
  const quick = await missingParts(set);
  if (!quick.ca && !quick.other && quick.leaves.length === 0) return set;
  await withLock(set.dir, async () => {
    const need = await missingParts(set); // another process may have done it while we waited
    await mkdir(set.dir, { recursive: true, mode: 0o755 });
    if (need.ca) await createCa(set.dir, { name: 'ca' });
    if (need.other) {
      await createCa(set.dir, { name: 'other-ca', cn: 'Some Other CA' });
      await issueClientCert(set.dir, set.dir, { cn: 'shipper-1', name: 'other-client', caName: 'other-ca' });
    }
    for (const leaf of need.leaves) {
      if (leaf === 'server') await issueServerCert(set.dir, set.dir);
      else if (leaf === 'server-wrong-host')
        await issueServerCert(set.dir, set.dir, {
          name: 'server-wrong-host',
          cn: 'wrong-host.invalid',
          dns: ['wrong-host.invalid'],
          ips: [],
        });
      else if (leaf === 'server-expired') {
        const now = Date.now();
        await issueServerCert(set.dir, set.dir, {
          name: 'server-expired',
          notBefore: new Date(now - 30 * DAY_MS),
          notAfter: new Date(now - DAY_MS),
        });
      } else await issueClientCert(set.dir, set.dir, { cn: leaf.slice('client:'.length) });
    }
  });
  return set;
}

/** Reads a pair for `tls.createServer` / `tls.connect` options. */
export async function readCertFiles(f: CertFiles): Promise<{ cert: Buffer; key: Buffer }> {
  const [cert, key] = await Promise.all([readFile(f.cert), readFile(f.key)]);
  return { cert, key };
}

/** Removes a set written by ensureCerts (tests). */
export async function removeCerts(dir: string): Promise<void> {
  await rm(resolve(dir), { recursive: true, force: true });
  await rm(`${resolve(dir)}.lock`, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Inspecting: Node 20's X509Certificate does not expose the signature algorithm, so read it from the
// DER (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signature }).

const SIGNATURE_OIDS: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.3.101.112': 'Ed25519',
};

/** One DER TLV at `at`: where its contents start and end. */
function tlv(der: Buffer, at: number, expectTag: number): { start: number; end: number } {
  if (der[at] !== expectTag)
    throw new CertError(
      'LS_ERR_CERT_PARSE',
      `expected DER tag 0x${expectTag.toString(16)} at byte ${at}, found 0x${(der[at] ?? 0).toString(16)}`,
    );
  let len = der[at + 1] ?? 0;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  if (start + len > der.length) throw new CertError('LS_ERR_CERT_PARSE', `DER length at byte ${at} runs past the end`);
  return { start, end: start + len };
}

/** The signature algorithm of a certificate (PEM or DER), e.g. `ecdsa-with-SHA256`, or its OID when unknown. */
export function signatureAlgorithmOf(cert: string | Buffer): string {
  const der =
    typeof cert === 'string' || !cert.subarray(0, 1).equals(Buffer.from([0x30])) ? new X509Certificate(cert).raw : cert;
  const outer = tlv(der, 0, 0x30);
  const tbs = tlv(der, outer.start, 0x30);
  const alg = tlv(der, tbs.end, 0x30);
  const oid = tlv(der, alg.start, 0x06);
  const bytes = der.subarray(oid.start, oid.end);
  const first = bytes[0] ?? 0;
  const parts = [Math.floor(first / 40), first % 40];
  let v = 0;
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!;
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  const dotted = parts.join('.');
  return SIGNATURE_OIDS[dotted] ?? dotted;
}
