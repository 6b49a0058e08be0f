/**
 * Syslog's names (RFC 5424 tables 1 and 2) and the severity ↔ level mapping of shared/protocol/README.md §7, used by the
 * reading side (scan.ts, writer.ts) and the writing side (encode.ts) alike.
 */
import type { Level } from '../record.ts';

/** Facility keywords by code (RFC 5424 table 1, with the names rsyslog and logger use). */
export const FACILITIES = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

/** Severity keywords by code (RFC 5424 table 2). */
export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** shared/protocol/README.md §7: severity 0–2 → fatal, 3 → error, 4 → warn, 5–6 → info, 7 → debug. */
export const SEVERITY_LEVEL: readonly Level[] = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'];

/** The other way, for the forwarder: the severity a record of that level is sent with. */
export const LEVEL_SEVERITY: Readonly<Record<Level, number>> = {
  trace: 7,
  debug: 7,
  info: 6,
  warn: 4,
  error: 3,
  fatal: 2,
};
