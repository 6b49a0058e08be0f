/**
 * A sample of the traffic the syslog lane meets, parsed once at start-up before the lane says ready
 * (`--warm-up`, syslog-parser.ts): V8 runs new code in its interpreter until the code has run often
 * enough to be compiled, so a fresh lane parsed its first half million messages slower than the next
 * (0.39–0.44 s of CPU against ~0.32 s once warm, on one core here). Parsing a sample first moves that cost
 * before the first client — the lane's answer to "the first second after a restart is the slowest".
 *
 * The sample is every shape the parser has a path for, so that no path meets real traffic cold: RFC 5424
 * with structured data (most messages), with NILVALUEs and no SD, with escapes, two SD elements and
 * UTF-8; RFC 3164 with a TAG[pid]; octet-counted and LF-framed. Deterministic: no randomness, no clock.
 */
import { HOSTS, PATHS, REGIONS, SERVICES, STATUS, VERBS } from '../../shared/generate.ts';

/**
 * Messages parsed at start-up by default (~3 MB of input, ~0.1 s). The first 500k messages after it cost a
 * median 376 ms of CPU against 405 ms cold (8 fresh processes each, one core); 50,000 did no better and
 * kept ~6 MiB more RSS.
 */
export const WARM_UP_MESSAGES = 20_000;

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Message `i` of the sample, and whether it is sent LF-framed (else octet-counted). */
function sampleMessage(i: number): { text: string; lf: boolean } {
  const at = `2026-01-01T00:${pad(Math.floor(i / 60_000) % 60)}:${pad(Math.floor(i / 1000) % 60)}.${pad(i % 1000, 3)}`;
  const host = HOSTS[i % HOSTS.length]!;
  const app = SERVICES[i % SERVICES.length]!;
  const pri = (16 + (i % 8)) * 8 + (i % 7 === 0 ? 3 : 6);
  const req = `${VERBS[i % VERBS.length]} ${PATHS[i % PATHS.length]}/${i % 10_000} ${STATUS[i % STATUS.length]} ${i % 250}ms`;
  switch (i % 10) {
    case 7:
      return { text: `<${pri}>1 ${at}Z ${host} ${app} - - - ${req}`, lf: true };
    case 8:
      return {
        text: `<${pri}>1 ${at}+01:00 ${host} ${app} ${1000 + i} AUDIT [req@32473 id="w${i}" note="a \\"quoted\\" \\] word"][meta@32473 region="${REGIONS[i % REGIONS.length]}"] ${req}\tcafé`,
        lf: false,
      };
    case 9:
      return {
        text: `<${pri}>Jan ${String(1 + (i % 28)).padStart(2)} 12:34:${pad(i % 60)} ${host} ${app}[${i}]: ${req}`,
        lf: true,
      };
    default:
      return {
        text: `<${pri}>1 ${at}Z ${host} ${app} ${1000 + i} REQ [req@32473 id="w${i}" user="${i % 100_000}" region="${REGIONS[i % REGIONS.length]}"] ${req}`,
        lf: false,
      };
  }
}

/**
 * The first `n` sample messages as one byte stream, framed per message, as reads of ~64 KiB made one at
 * a time into one reused buffer (a read is valid until the next is taken): the warm-up leaves no
 * megabytes of sample behind in the heap.
 */
export function* warmUpStream(n: number): Generator<Buffer> {
  const read = Buffer.allocUnsafe(64 << 10);
  let len = 0;
  for (let i = 0; i < n; i++) {
    const { text, lf } = sampleMessage(i);
    const framed = lf ? `${text}\n` : `${Buffer.byteLength(text)} ${text}`;
    if (len + Buffer.byteLength(framed) > read.length) {
      yield read.subarray(0, len);
      len = 0;
    }
    len += read.write(framed, len);
  }
  if (len > 0) yield read.subarray(0, len);
}
