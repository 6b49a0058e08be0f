// Graded checks for day 14: the load generator. It keeps an open-loop schedule (a rate, a ramp, steps),
// measures latency from when each record was due, counts what the receiver really persisted (not what
// was ACKed), reproduces its records from a seed, and documents its report.
// Black-box: the loadgen and the day 14 receiver are driven through the process contract (CONVENTIONS.md §2);
// every count the loadgen reports is recounted here from the receiver's files.
//
// What the learner writes (lessons/day14/README.md, "Your TODOs"): the schedule (schedule.ts), the open
// loop's turn (loadgen.ts), the latency report (latency.ts) and the verification (verify.ts). d14.1 (the
// process contract) and d14.4 (the seeded records) test code the lesson hands over: given, 0 points.
// The checks live one per file in checks/day14/ (what several use: day14/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d14_1 } from './day14/d14-1-process-contract.ts';
import { d14_2 } from './day14/d14-2-open-loop-fixed-rate.ts';
import { d14_3 } from './day14/d14-3-verify-from-files.ts';
import { d14_4 } from './day14/d14-4-seeded-records.ts';
import { d14_5 } from './day14/d14-5-json-report.ts';
import { d14_6 } from './day14/d14-6-ramp-and-steps.ts';
import { d14_7 } from './day14/d14-7-latency-from-due-time.ts';

export { REPORT_FIELDS } from './day14/support.ts';

export const lesson = 'day14';

export const checks: Check[] = [d14_1, d14_2, d14_3, d14_4, d14_5, d14_6, d14_7];
