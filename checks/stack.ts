// The capstone's graded checks (lessons/stack/README.md, [stack.N]): the integrated stack as a whole,
// driven through its launcher (scripts/stack.ts) with a test config — free ports, a temp data dir, no demo
// traffic — and, for the syslog lane, through clients nobody here wrote: util-linux `logger` and rsyslog.
//
// Black-box like every check (CONVENTIONS.md §3): the launcher's ready line, real sockets, the persisted files and
// the dashboard's HTTP API. The lanes' programs come from the lessons root under test (--lessons-root);
// lanes that root does not have (a fixture holds only stack/) come from this repo.
//
// Each check starts the stack once, with only the lanes it needs.
// The checks live one per file in checks/stack/ (what several use: stack/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { stack_1 } from './stack/stack-1-every-lane-up.ts';
import { stack_2 } from './stack/stack-2-logger.ts';
import { stack_3 } from './stack/stack-3-rsyslog-forwarding.ts';
import { stack_4 } from './stack/stack-4-octet-and-lf-framing.ts';
import { stack_5 } from './stack/stack-5-malformed-syslog.ts';
import { stack_6 } from './stack/stack-6-one-lane-killed.ts';

export { STACK_READY_MS, DOWN_WITHIN_MS, availableLanes } from './stack/support.ts';

export const lesson = 'stack';

export const checks: Check[] = [stack_1, stack_2, stack_3, stack_4, stack_5, stack_6];
