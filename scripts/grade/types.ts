// What the class grader (class.ts) reports and takes (issue 19): a learner-day, a learner, the class. Its own
// module so that the feedback writer (feedback.ts) reads these types without importing the grader (issue 22:
// no import cycle).
import type { DayGrade, GradeReport, SharedDiff } from './copy.ts';

export interface ClassDayGrade extends DayGrade {
  /** Taken from the cache (graded before with the same copy, reference and seed). */
  cached?: boolean;
  /** The budget ran out: the checks without a result failed. */
  outOfTime?: boolean;
  /** --retry-failed: the checks that failed and ran once more, alone on the machine (the second result kept). */
  retried?: string[];
  /** Wall time of this learner-day (its checks), ms. */
  ms?: number;
}

export interface LearnerGrade {
  name: string;
  /** The learner's folder in the class. */
  dir: string;
  lessonsRoot: string;
  /** sha256 of every file of the copy (lessons/ and shared/). */
  hash: string;
  sharedDiff?: SharedDiff;
  notes?: string[];
  days: ClassDayGrade[];
  total: GradeReport['total'];
}

export interface ClassReport {
  classDir: string;
  outDir: string;
  gradedAt: string;
  seed: number;
  reference: { commit: string; hash: string; shared: string };
  sandbox: { used: boolean; reason?: string };
  jobs: number;
  budgetS: number;
  days: string[];
  only?: string[];
  wallMs: number;
  learners: LearnerGrade[];
  /** Folders of the class that are not learner folders, and why. */
  skipped: Array<{ dir: string; reason: string }>;
}

export interface ClassOptions {
  classDir: string;
  outDir: string;
  seed: number;
  days: string[];
  only?: string[];
  jobs: number;
  budgetS: number;
  /** Checks at once within one learner-day. */
  concurrency: number;
  runUntouched: boolean;
  /** false: --no-sandbox (the learner code runs with the grader's rights). */
  sandbox: boolean;
  /** Grade again even what the cache holds. */
  fresh: boolean;
  /** Run a learner-day's failed checks once more, alone on the machine, and keep the second result. */
  retryFailed?: boolean;
  /** Show the progress bar (a TTY) or a line per learner-day (otherwise); false: nothing. */
  progress: boolean;
  repoRoot?: string;
}
