// What a shipper under test is started with, so a test sees its progress soon and waits little after a receiver
// goes away: a progress line every 100 ms, reconnect windows from 20 ms up to 200 ms. The checks' kit
// (checks/harness/kit/programs.ts shipperFlags) and the scale-out failover test (lessons/scale/scale.test.ts)
// start their LSP/1 shippers with these (issue 22: one copy).
export const QUICK_SHIPPER_FLAGS: readonly string[] = [
  '--progress-ms',
  '100',
  '--backoff-base-ms',
  '20',
  '--backoff-cap-ms',
  '200',
];
