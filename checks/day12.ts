// Graded checks for day 12: compression (shared/protocol/README.md §3 header byte 4, §6 decoded-size limit, §7 files at rest).
// Every codec round-trips records byte for byte, compressed batches really carry fewer bytes (counted by a
// FaultProxy, not by the programs' own word), tiny batches are never made bigger, a decompression bomb is
// stopped at the limit with bounded memory, a corrupt payload or a codec the receiver does not take is a
// clear NACK, and rotated files compressed at rest hold every record once.
// Black-box: programs are driven through the process contract (COURSE.md); frames are built with
// shared/protocol (encodeBatch + the codec table), bytes are counted by shared/fault-proxy.ts.
// The learner's TODOs (lessons/day12/README.md, "Your TODOs"): shipper.ts compressBatch (compress when it
// pays: d12.3, d12.4, d12.5), bounded-decode.ts decompressBounded (stop at the limit: d12.6), receiver.ts
// decodePayload (the codecs taken: d12.8; what each costs and saves: d12.2) and the sink's rest
// compression (d12.9); the hints below name them.
// Given, 0 points: d12.1 (the process contract: flags, --help, the ready line come with the lesson) and
// d12.7 (a payload that does not decompress is LS_ERR_DECODE: the codec table says so, and day 09's
// connection machinery turns it into a NACK).
// The checks live one per file in checks/day12/ (what several use: day12/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d12_1 } from './day12/d12-1-process-contract.ts';
import { d12_2 } from './day12/d12-2-codecs-round-trip.ts';
import { d12_3 } from './day12/d12-3-shipper-codecs.ts';
import { d12_4 } from './day12/d12-4-bytes-on-the-wire.ts';
import { d12_5 } from './day12/d12-5-never-bigger.ts';
import { d12_6 } from './day12/d12-6-decompression-bomb.ts';
import { d12_7 } from './day12/d12-7-undecodable-payload.ts';
import { d12_8 } from './day12/d12-8-unknown-codec.ts';
import { d12_9 } from './day12/d12-9-compression-at-rest.ts';

export const lesson = 'day12';

export const checks: Check[] = [d12_1, d12_2, d12_3, d12_4, d12_5, d12_6, d12_7, d12_8, d12_9];
