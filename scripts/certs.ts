/**
 * `npm run certs`: the development certificates for the TLS lessons (day 13), under certs/ by default.
 *
 *   npm run certs                                  create what is missing (idempotent)
 *   npm run certs -- --out /tmp/c --clients a,b    another directory, more client identities
 *   npm run certs -- --rotate-server               a fresh server certificate (new key, new serial)
 *   npm run certs -- --force                       throw the set away and start over (new CA)
 *   npm run certs -- --server-names day13,syslog   server.crt also valid for these names (containers)
 *
 * The library behind it is shared/tls/certs.ts (`ensureCerts`, `issueServerCert`, `issueClientCert`).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { opt, parseCli } from '../shared/cli.ts';
import {
  ensureCerts,
  issueServerCert,
  removeCerts,
  signatureAlgorithmOf,
  type CertFiles,
} from '../shared/tls/certs.ts';

const args = parseCli({
  name: 'scripts/certs.ts',
  summary: 'Create the development CA, server and client certificates (and the bad ones the checks use).',
  options: {
    out: opt.string('--out <dir>', 'directory to write into', 'certs'),
    clients: opt.list('--clients <names>', 'client certificate common names, comma-separated', ['shipper-1']),
    rotateServer: opt.flag(
      '--rotate-server',
      'issue a fresh server certificate (new key and serial) signed by the same CA',
    ),
    force: opt.flag('--force', 'delete the directory first: a new CA and everything it signs'),
    serverNames: opt.list(
      '--server-names <names>',
      'more DNS names server.crt must hold besides localhost (e.g. the compose services day13,syslog); a server.crt without one of them is reissued by the same CA',
      [],
    ),
    json: opt.flag('--json', 'print one JSON object instead of the table'),
  },
  epilog: [
    'Files (keys are mode 0600):',
    '  ca.crt/.key                 development CA — give ca.crt to every client and to mTLS servers',
    '  server.crt/.key             CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:::1 (+ DNS:<each --server-names>)',
    '  client-<name>.crt/.key      client identities for mTLS (default shipper-1)',
    '  other-ca.crt/.key           an unrelated CA, and other-client.crt/.key (CN=shipper-1) signed by it',
    '  server-expired.crt/.key     signed by the dev CA, expired yesterday',
    '  server-wrong-host.crt/.key  signed by the dev CA, for wrong-host.invalid only',
  ].join('\n'),
});

if (args.force) await removeCerts(args.out);
const set = await ensureCerts(args.out, { clients: args.clients });
// Inside a container network clients reach a TLS lane by its service name, which a certificate for
// localhost does not cover: verification (always on, day 13) would refuse it.
const serverDns = ['localhost', ...args.serverNames.filter((n) => n !== 'localhost')];
const lacksName = (pem: string) => {
  const x = new X509Certificate(pem);
  return args.serverNames.some((n) => x.checkHost(n, { wildcards: false }) === undefined);
};
if (args.rotateServer || lacksName(await readFile(set.server.cert, 'utf8')))
  await issueServerCert(set.dir, set.dir, { dns: serverDns });

const rows: Array<[string, CertFiles]> = [
  ['dev CA', set.ca],
  ['server', set.server],
  ...Object.entries(set.clients).map(([cn, f]): [string, CertFiles] => [`client ${cn}`, f]),
  ['other CA', set.otherCa],
  ['other-CA client', set.otherClient],
  ['expired server', set.expiredServer],
  ['wrong-host server', set.wrongHostServer],
];
const described = await Promise.all(
  rows.map(async ([what, f]) => {
    const pem = await readFile(f.cert, 'utf8');
    const x = new X509Certificate(pem);
    return {
      what,
      cert: relative(process.cwd(), f.cert) || f.cert,
      key: relative(process.cwd(), f.key) || f.key,
      subject: x.subject.replace(/\n/g, ', '),
      issuer: x.issuer.replace(/\n/g, ', '),
      serial: x.serialNumber,
      notAfter: new Date(x.validTo).toISOString(),
      expired: new Date(x.validTo).getTime() < Date.now(),
      signature: signatureAlgorithmOf(pem),
      san: x.subjectAltName ?? '',
    };
  }),
);

if (args.json) {
  process.stdout.write(`${JSON.stringify({ event: 'done', dir: set.dir, certs: described })}\n`);
} else {
  process.stdout.write(`certificates in ${set.dir}\n`);
  for (const d of described) {
    process.stdout.write(
      `  ${d.what.padEnd(18)} ${d.cert.padEnd(34)} ${d.subject.padEnd(34)} serial ${d.serial.padEnd(20)} until ${d.notAfter.slice(0, 10)}${d.expired ? ' (EXPIRED)' : ''}${d.san ? `  ${d.san}` : ''}\n`,
    );
  }
}
