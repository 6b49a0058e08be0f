/**
 * The other way: an LSP/1 record as one RFC 5424 message (`encodeSyslog5424`), what the syslog forwarder
 * (lessons/stack/syslog-forwarder.ts) sends. The framing around it (RFC 6587) is the sender's business.
 */
import { isRfc3339, type LogRecord } from '../record.ts';
import { FACILITIES, LEVEL_SEVERITY, SEVERITIES } from './names.ts';

export interface Syslog5424Options {
  /** facility when the record has no attrs.facility (code or keyword); default 1 (user) */
  facility?: number | string;
  /** start MSG with a UTF-8 BOM, as RFC 5424 §6.4 suggests; default false (most collectors keep it in the text) */
  bom?: boolean;
  /**
   * SD-ID under which attrs other than facility/severity/procid/msgid/sd travel, as params (strings as
   * they are, anything else as JSON); false to leave them out. Default `lsp@32473` (32473 is the example
   * enterprise number of RFC 5612).
   */
  attrsSdId?: string | false;
}

/** PRINTUSASCII (33..126) only, `-` when empty, at most `max` characters (RFC 5424 §6.2 header fields). */
function headerField(value: unknown, max: number): string {
  if (typeof value !== 'string' || value === '') return '-';
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    out += c > 32 && c < 127 ? ch : '_';
    if (out.length >= max) break;
  }
  return out;
}

/** SD-NAME: 1..32 PRINTUSASCII except `=`, SP, `]`, `"`. */
function sdName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    out += c > 32 && c < 127 && ch !== '=' && ch !== ']' && ch !== '"' ? ch : '_';
    if (out.length >= 32) break;
  }
  return out === '' ? '_' : out;
}

function paramValue(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function codeOf(value: unknown, names: readonly string[], max: number): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max) return value;
  if (typeof value === 'string') {
    const i = names.indexOf(value);
    if (i >= 0) return i;
  }
  return undefined;
}

/** RFC 3339 as RFC 5424 wants it: upper-case T and Z, at most 6 fraction digits; `-` if not a timestamp. */
function timestamp5424(ts: unknown): string {
  if (typeof ts !== 'string' || !isRfc3339(ts)) return '-';
  let t = ts.slice(0, 10) + 'T' + ts.slice(11);
  t = t.replace(/z$/, 'Z');
  return t.replace(/^(.{19}\.\d{6})\d+/, '$1');
}

/**
 * A record as one RFC 5424 message (no framing): PRI from attrs.facility/attrs.severity (or the level),
 * TIMESTAMP from ts, HOSTNAME host, APP-NAME service, PROCID/MSGID from attrs, STRUCTURED-DATA from
 * attrs.sd (plus the other attrs, see attrsSdId), MSG the msg.
 */
export function encodeSyslog5424(record: LogRecord, opts: Syslog5424Options = {}): Buffer {
  const attrs = record.attrs ?? {};
  const facility = codeOf(attrs.facility, FACILITIES, 23) ?? codeOf(opts.facility, FACILITIES, 23) ?? 1;
  const severity = codeOf(attrs.severity, SEVERITIES, 7) ?? LEVEL_SEVERITY[record.level] ?? 6;
  let sd = '';
  const sdIn = attrs.sd;
  if (sdIn !== null && typeof sdIn === 'object' && !Array.isArray(sdIn)) {
    for (const [id, params] of Object.entries(sdIn as Record<string, unknown>)) {
      sd += `[${sdName(id)}`;
      if (params !== null && typeof params === 'object' && !Array.isArray(params)) {
        for (const [name, value] of Object.entries(params as Record<string, unknown>)) {
          for (const v of Array.isArray(value) ? value : [value]) sd += ` ${sdName(name)}="${paramValue(v)}"`;
        }
      }
      sd += ']';
    }
  }
  const sdId = opts.attrsSdId === undefined ? 'lsp@32473' : opts.attrsSdId;
  if (sdId !== false) {
    let extra = '';
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'facility' || k === 'severity' || k === 'procid' || k === 'msgid' || k === 'sd' || v === undefined)
        continue;
      extra += ` ${sdName(k)}="${paramValue(v)}"`;
    }
    if (extra) sd += `[${sdName(sdId)}${extra}]`;
  }
  const header = `<${facility * 8 + severity}>1 ${timestamp5424(record.ts)} ${headerField(record.host, 255)} ${headerField(record.service, 48)} ${headerField(attrs.procid, 128)} ${headerField(attrs.msgid, 32)} ${sd || '-'}`;
  const msg = typeof record.msg === 'string' ? record.msg : String(record.msg);
  if (msg === '') return Buffer.from(header);
  return Buffer.from(`${header} ${opts.bom ? '\ufeff' : ''}${msg}`);
}
