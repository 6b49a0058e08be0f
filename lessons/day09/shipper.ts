/**
 * Day 09 — Acknowledged delivery: the shipper.
 *
 * A successful send() only proves the kernel took the bytes. So today the shipper keeps every record
 * until the receiver ACKs it (an ACK means "durable on my side"), and sends again whatever a lost
 * connection may have swallowed: at-least-once delivery. The receiver drops the copies (dedup by seq).
 *
 * The connection is an explicit state machine; every transition is logged with its reason and printed
 * on stdout as {"event":"state","from","to","reason","t"}:
 *
 *     idle ─▶ connecting ─▶ handshaking ─▶ streaming ─▶ draining ─▶ closed
 *                 ▲   │           │            │            │
 *                 │   ▼           ▼            ▼            ▼
 *                 └── backoff ◀───┴────────────┴────────────┘   (connection lost, NACK, ACK timeout)
 *
 * The machine itself — sockets, frames, the window, the watchdog, the done line — is the shipper engine
 * (lessons/day09/shipper-engine.ts, reused by days 11–13). What it asks at each turn is the day's idea:
 *
 *   lessons/day09/outbox.ts    every batch is kept until an ACK covers it; an ACK forgets what it covers
 *                              (re-slicing a batch held in part); a lost connection puts the rest back [d09.3, d09.4]
 *   lessons/day09/policies.ts  1. after the HELLO's ACK: forget what the receiver holds, send the rest again [d09.3–d09.5]
 *                              2. when is a connection dead although TCP looks fine (half-open)? [d09.8]
 *                              3. memory is bounded (--queue-records): past it the --spool on disk [d09.6],
 *                                 then --overflow: block the source, or drop (counted; the receiver sees the gap) [d09.7]
 *                              4. with --follow, the read position in --state-dir moves only on an ACK, so a
 *                                 shipper killed with -9 resumes where the receiver's ACK left it [d09.5]
 *   lessons/day09/backoff.ts   how long to wait before reconnecting: exponential backoff with FULL jitter [d09.10]
 *
 * A batch is simply the records already waiting, up to --batch-records (lessons/day09/batching.ts); day 11
 * teaches when it pays to wait for more.
 *
 * Run: npx tsx lessons/day09/shipper.ts --target 127.0.0.1:5141 --generate 200000
 */
import { parseCli } from '../../shared/cli.ts';
import { createLog } from '../../shared/log.ts';
import { DAY09_POLICIES } from './policies.ts';
import { LspShipper } from './shipper-engine.ts';
import { lspShipperOptions, shipperDirs, validateLspShipper } from './shipper-options.ts';

const PROGRAM = 'lessons/day09/shipper.ts';
const args = parseCli({
  name: PROGRAM,
  summary:
    'Day 09 shipper: LSP/1 with ACKs, resend after reconnect, backoff with jitter, bounded memory, spool, --follow.',
  options: lspShipperOptions('day09'),
  validate: validateLspShipper,
});

const log = createLog('day09/shipper');
// --state-dir (the stream id; with --follow the acknowledged read position [d09.5]) and --spool [d09.6]: one
// shipper per dir (lessons/day09/shipper-options.ts)
const dirs = shipperDirs(PROGRAM, args);

const shipper = new LspShipper({ lesson: 'day09', args, log, ...dirs, policies: DAY09_POLICIES });
process.exit(await shipper.run());
