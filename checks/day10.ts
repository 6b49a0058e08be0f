// Graded checks for day 10: LSP/1 over UDP (lessons/day10/README.md, UDP), one BATCH frame per datagram, loss made visible.
// Black-box: the programs are driven through the process contract (CONVENTIONS.md §2); the checks build their own
// datagrams with shared/protocol and listen with their own UDP sockets.
// The checks live one per file in checks/day10/ (what several use: day10/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d10_1 } from './day10/d10-1-process-contract.ts';
import { d10_2 } from './day10/d10-2-gentle-rate-delivery.ts';
import { d10_3 } from './day10/d10-3-sequence-accounting.ts';
import { d10_4 } from './day10/d10-4-overload-loss.ts';
import { d10_5 } from './day10/d10-5-garbage-and-bad-crc.ts';
import { d10_6 } from './day10/d10-6-max-datagram-packing.ts';
import { d10_7 } from './day10/d10-7-rate.ts';
import { d10_8 } from './day10/d10-8-sigterm.ts';

export const lesson = 'day10';

export const checks: Check[] = [d10_1, d10_2, d10_3, d10_4, d10_5, d10_6, d10_7, d10_8];
