// Graded checks for day 09: acknowledged delivery over LSP/1 binary frames (shared/protocol/README.md §3, §4): HELLO/ACK,
// dedup by (stream, seq), ACK only what is durable, resend after reconnect, bounded memory with a
// spool and an overflow policy, --follow that survives kill -9, half-open detection, NACK on bad
// frames, and reconnect backoff with full jitter.
// Black-box: the programs are driven through the process contract (COURSE.md); faults come from
// shared/fault-proxy.ts placed between the shipper and the receiver.
// The learner's TODOs (lessons/day09/README.md, "Your TODOs"): ingest.ts (HELLO's answer, dedup and gaps,
// ACK once durable), outbox.ts (ack/rewind), policies.ts (resume after HELLO, dead connection, admit,
// overflow, follow position) and backoff.ts (window and full jitter); the hints below name them.
// d09.9 (a broken frame: NACK + close that connection) is the connection machinery the lesson hands over:
// given, 0 points.
// The checks live one per file in checks/day09/ (what several use: day09/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d09_1 } from './day09/d09-1-process-contract.ts';
import { d09_2 } from './day09/d09-2-handshake.ts';
import { d09_3 } from './day09/d09-3-fault-proxy-cuts.ts';
import { d09_4 } from './day09/d09-4-receiver-kill-9.ts';
import { d09_5 } from './day09/d09-5-shipper-kill-9-follow.ts';
import { d09_6 } from './day09/d09-6-spool.ts';
import { d09_7 } from './day09/d09-7-overflow.ts';
import { d09_8 } from './day09/d09-8-half-open.ts';
import { d09_9 } from './day09/d09-9-nack-broken-frame.ts';
import { d09_10 } from './day09/d09-10-backoff.ts';

export const lesson = 'day09';

export const checks: Check[] = [d09_1, d09_2, d09_3, d09_4, d09_5, d09_6, d09_7, d09_8, d09_9, d09_10];
