import { describe, expect, it } from 'vitest';
import { firstErrorLine, tail } from './stderr.ts';

describe('firstErrorLine', () => {
  it('a compile error (esbuild through tsx): the file:line:col line, whole', () => {
    const stderr =
      'node:internal/modules/run_main:123\n    triggerUncaughtException(\n    ^\nError [TransformError]: Transform failed with 1 error:\n/x/lessons/day09/ingest.ts:1:18: ERROR: Unexpected ";"\n    at failureErrorWithLog (/x/node_modules/esbuild/lib/main.js:1752:15)\n';
    expect(firstErrorLine(stderr)).toBe('/x/lessons/day09/ingest.ts:1:18: ERROR: Unexpected ";"');
  });

  it('a SyntaxError while linking: the location line above it joined with the error', () => {
    const stderr =
      "/x/lessons/day09/receiver.ts:3\nimport { b } from './m.ts';\n         ^\n\nSyntaxError: The requested module './m.ts' does not provide an export named 'b'\n    at ModuleJob._instantiate (node:internal/modules/esm/module_job:213:21)\n";
    expect(firstErrorLine(stderr)).toBe(
      "/x/lessons/day09/receiver.ts:3 SyntaxError: The requested module './m.ts' does not provide an export named 'b'",
    );
  });

  it('a thrown error: location with the column of its stack frame; else the first frame in the program', () => {
    expect(
      firstErrorLine(
        'file:///x/a.ts:7\n  throw e;\n\nError: boom\n    at f (/x/node_modules/p/i.js:1:1)\n    at g (file:///x/a.ts:7:37)\n',
      ),
    ).toBe('/x/a.ts:7:37 Error: boom');
    expect(firstErrorLine('TypeError: x is not a function\n    at main (/x/b.ts:4:2)\n')).toBe(
      '/x/b.ts:4:2 TypeError: x is not a function',
    );
    expect(firstErrorLine('listening\nall good\n')).toBeUndefined();
  });

  it('tail keeps a short text whole and cuts a long one in the middle', () => {
    expect(tail('a\nb\n')).toBe('a\nb');
    const long = Array.from({ length: 40 }, (_, i) => `l${i}`).join('\n');
    expect(tail(long, 2, 2).split('\n')).toEqual(['l0', 'l1', '… (36 lines)', 'l38', 'l39']);
  });
});
