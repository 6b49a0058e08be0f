import { describe, expect, it } from 'vitest';
import { HarnessError } from './errors.ts';
import { stubSolutions } from './solutions.ts';

describe('stubSolutions', () => {
  it('replaces a region by its TODO and stub lines, indentation kept', () => {
    const src = [
      'function f() {',
      '  const a = 1;',
      '  // @solution [d08.5] enforce the line limit',
      '  // @stub return;',
      '  if (a > 1) {',
      '    reject();',
      '  }',
      '  // @end-solution',
      '  done();',
      '}',
    ].join('\n');
    const r = stubSolutions(src, 'x.ts');
    expect(r.text).toBe(
      [
        'function f() {',
        '  const a = 1;',
        '  // TODO [d08.5] enforce the line limit',
        '  return;',
        '  done();',
        '}',
      ].join('\n'),
    );
    expect(r.regions).toEqual([
      {
        ids: ['d08.5'],
        title: 'enforce the line limit',
        line: 3,
        todoLine: 3,
        body: ['  if (a > 1) {', '    reject();', '  }'],
      },
    ]);
  });

  it('zero or several stub lines, several ids, several regions', () => {
    const src = [
      '// @solution [d08.1, d08.2] two things',
      'real();',
      '// @end-solution',
      'keep();',
      '    // @solution [d08.3]',
      '    // @stub let x = 0;',
      '    // @stub',
      '    //   @stub-like text in a comment is not a marker',
      '    x = compute();',
      '    // @end-solution',
    ].join('\n');
    expect(() => stubSolutions(src)).toThrow(HarnessError);
    const ok = src.replace('    //   @stub-like text in a comment is not a marker\n', '');
    const r = stubSolutions(ok);
    expect(r.text).toBe(
      ['// TODO [d08.1, d08.2] two things', 'keep();', '    // TODO [d08.3]', '    let x = 0;', '    '].join('\n'),
    );
    expect(r.regions.map((g) => g.ids)).toEqual([['d08.1', 'd08.2'], ['d08.3']]);
    expect(r.regions.map((g) => [g.line, g.todoLine])).toEqual([
      [1, 1],
      [5, 3],
    ]);
    expect(r.regions.map((g) => g.body)).toEqual([['real();'], ['    x = compute();']]);
  });

  it('source without regions is unchanged', () => {
    const src = 'a\n// a normal comment\nb\n';
    expect(stubSolutions(src)).toEqual({ text: src, regions: [] });
  });

  it.each([
    ['open without end', '// @solution [d08.1] x\ncode\n', 1],
    ['end without open', 'code\n// @end-solution\n', 2],
    ['nested', '// @solution [d08.1] a\n// @solution [d08.2] b\n// @end-solution\n// @end-solution\n', 2],
    ['stub outside a region', '// @stub x\n', 1],
    ['no id', '// @solution [] x\n// @end-solution\n', 1],
    ['no brackets', '// @solution d08.1 x\n// @end-solution\n', 1],
  ])('unbalanced or malformed markers are an error: %s', (_name, src, line) => {
    try {
      stubSolutions(src, 'f.ts');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HarnessError);
      expect((err as HarnessError).code).toBe('LS_ERR_SOLUTION_MARKERS');
      expect((err as HarnessError).message.startsWith(`f.ts:${line}:`)).toBe(true);
    }
  });
});
