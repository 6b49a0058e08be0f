// Lesson id → its checks. A new day adds one line.
import type { Check } from './harness/types.ts';

export interface DayModule {
  lesson: string;
  checks: Check[];
}

export const registry: Record<string, () => Promise<DayModule>> = {
  day08: () => import('./day08.ts'),
  day09: () => import('./day09.ts'),
  day10: () => import('./day10.ts'),
  day11: () => import('./day11.ts'),
  day12: () => import('./day12.ts'),
  day13: () => import('./day13.ts'),
  day14: () => import('./day14.ts'),
  stack: () => import('./stack.ts'),
  scale: () => import('./scale.ts'),
};
