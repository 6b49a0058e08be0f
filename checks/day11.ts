// Graded checks for day 11: batching. A batch leaves at --batch-records, before it would pass
// --batch-bytes, or --batch-delay-ms after its first record — whichever comes first — and always on
// close; order survives batching; a UDP batch never exceeds the datagram; bad settings are refused.
// Black-box: the shipper is driven through the process contract (CONVENTIONS.md §2) and, for the flush rules,
// talks to a tiny LSP/1 receiver inside the check (frames decoded with shared/protocol, ACKed at once)
// or to the check's own UDP socket, so the check sees every frame and when it arrived.
// The checks live one per file in checks/day11/ (what several use: day11/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d11_1 } from './day11/d11-1-process-contract.ts';
import { d11_2 } from './day11/d11-2-batch-records.ts';
import { d11_3 } from './day11/d11-3-batch-bytes.ts';
import { d11_4 } from './day11/d11-4-batch-delay.ts';
import { d11_5 } from './day11/d11-5-sigterm-flushes.ts';
import { d11_6 } from './day11/d11-6-order-no-duplicates.ts';
import { d11_7 } from './day11/d11-7-max-datagram.ts';
import { d11_8 } from './day11/d11-8-impossible-settings.ts';

export const lesson = 'day11';

export const checks: Check[] = [d11_1, d11_2, d11_3, d11_4, d11_5, d11_6, d11_7, d11_8];
