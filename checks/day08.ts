// Graded checks for day 08: a TCP receiver of NDJSON lines (shared/protocol/README.md §2) that persists records (§7).
// Black-box: the programs are driven through the process contract (COURSE.md) alone. Hints name the
// learner's TODOs: lessons/day08/line-decoder.ts (framing, the line limit), lessons/day08/validate.ts
// (validation), lessons/day08/receiver.ts (idle timeout, connection limit, the clean end, SIGTERM).
// The checks live one per file in checks/day08/ (what several use: day08/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d08_1 } from './day08/d08-1-process-contract.ts';
import { d08_2 } from './day08/d08-2-round-trip.ts';
import { d08_3 } from './day08/d08-3-concurrent-connections.ts';
import { d08_4 } from './day08/d08-4-crlf-and-split-utf8.ts';
import { d08_5 } from './day08/d08-5-line-too-long.ts';
import { d08_6 } from './day08/d08-6-rejects.ts';
import { d08_7 } from './day08/d08-7-idle-timeout.ts';
import { d08_8 } from './day08/d08-8-final-line-without-lf.ts';
import { d08_9 } from './day08/d08-9-sigterm.ts';
import { d08_10 } from './day08/d08-10-max-connections.ts';

export const lesson = 'day08';

export const checks: Check[] = [d08_1, d08_2, d08_3, d08_4, d08_5, d08_6, d08_7, d08_8, d08_9, d08_10];
