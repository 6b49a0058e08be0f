// Reading a program's stderr for a failure message: the part worth showing, and the one line that says
// where it broke (`file:line:col message`), whole (issue 16, Deliver 3: a compile error must show its
// `file:line` line, not only "Transform failed with 1 error").

/** The part of stderr worth showing: all of it when short, else its head (the error) and tail. */
export function tail(text: string, head = 10, last = 15): string {
  const all = text.trimEnd().split('\n');
  if (all.length <= head + last + 1) return all.join('\n');
  return [...all.slice(0, head), `… (${all.length - head - last} lines)`, ...all.slice(-last)].join('\n');
}

const FILE = String.raw`(?:file://)?(/[^\s:()]+?\.(?:[cm]?[tj]s|tsx|jsx|json))`;
/** esbuild (through tsx): `/x/receiver.ts:12:4: ERROR: Unexpected ";"` */
const ESBUILD_LINE = new RegExp(String.raw`^\s*${FILE}:(\d+):(\d+):\s*(?:ERROR:\s*)?(.+)$`);
/** Node, above the source excerpt of an error thrown while loading: `/x/receiver.ts:3` */
const NODE_LOCATION = new RegExp(String.raw`^${FILE}:(\d+)$`);
/** `SyntaxError: …`, `Error [TransformError]: …`, `TypeError: …` */
const ERROR_LINE = /^(?:Uncaught )?([A-Z]\w*Error|Error)(?: \[\w+\])?: (.+)$/;
/** A stack frame in the program's own code (not node: internals, not node_modules). */
const FRAME = new RegExp(String.raw`^\s+at .*?\(?${FILE}:(\d+):(\d+)\)?$`);

/**
 * The line of a crashed program's stderr that says where and why it broke, e.g.
 * `/x/lessons/day09/ingest.ts:12:4: ERROR: Unexpected ";"` or
 * `/x/lessons/day09/receiver.ts:3 SyntaxError: The requested module './ingest.ts' does not provide an export named 'x'`.
 * Undefined when stderr holds no error.
 */
export function firstErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.replace(/\r$/, ''));
  for (const l of lines) {
    const m = ESBUILD_LINE.exec(l);
    if (m && !m[1]!.includes('/node_modules/')) return l.trim();
  }
  const errAt = lines.findIndex((l) => ERROR_LINE.test(l));
  if (errAt === -1) return undefined;
  const error = lines[errAt]!.trim();
  const frames = lines.slice(errAt + 1).flatMap((l) => {
    const m = FRAME.exec(l);
    return m && !m[1]!.includes('/node_modules/') ? [{ file: m[1]!, line: m[2]!, col: m[3]! }] : [];
  });
  for (let i = errAt - 1; i >= 0; i--) {
    const m = NODE_LOCATION.exec(lines[i]!.trim());
    if (!m) continue;
    // the location line has no column; the stack frame at the same line has it
    const f = frames.find((x) => x.file === m[1] && x.line === m[2]);
    return `${m[1]}:${m[2]}${f ? `:${f.col}` : ''} ${error}`;
  }
  const f = frames[0];
  return f ? `${f.file}:${f.line}:${f.col} ${error}` : error;
}

/** `it exited (code 1, …)` followed by the error line (when there is one) and the stderr tail. */
export function crashDetail(stderr: string): string {
  const line = firstErrorLine(stderr);
  return `${line ? `\nerror: ${line}` : ''}\nstderr tail:\n${tail(stderr) || '(empty)'}`;
}
