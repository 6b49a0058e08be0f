/**
 * Human logs go to stderr (CONVENTIONS.md §2: stdout carries only the ready line and the done line).
 * One line per event: `12:00:00.123 day08/receiver warn  connection refused peer=127.0.0.1:5000`.
 * LOGSTREAM_LOG=debug|info|warn|error sets the threshold (default info).
 */
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

export interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(scope: string): Log;
}

function threshold(): number {
  const name = (process.env.LOGSTREAM_LOG ?? 'info').toLowerCase() as LogLevel;
  return LEVELS[name] ?? LEVELS.info;
}

function formatFields(fields?: Record<string, unknown>): string {
  if (!fields) return '';
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    const s = typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v);
    out += ` ${k}=${s}`;
  }
  return out;
}

export function createLog(scope: string): Log {
  const min = threshold();
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] < min) return;
    const t = new Date().toISOString().slice(11, 23);
    process.stderr.write(`${t} ${scope} ${level.padEnd(5)} ${msg}${formatFields(fields)}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (s) => createLog(`${scope}/${s}`),
  };
}
