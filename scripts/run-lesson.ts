/**
 * `npm run lesson -- <day>`: starts a lesson's receiver, waits for its ready line, runs the lesson's
 * client against it, prints a summary, and keeps the receiver up until Ctrl-C (or exits after the
 * summary with --once). Each process's output is prefixed and coloured. `--list` lists lessons.
 *
 * `--lessons DIR` runs a learner's copy: the programs come from `DIR/<day>/` (issue 16). A run keeps
 * its files in `data/lesson/<day>/{receiver,shipper}` (emptied at its start), never in the integrated
 * stack's `data/stack/…`: a lesson run and a running `npm start` share no data or state dir.
 *
 * Day 09's demo ships through a FaultProxy that cuts the connection once mid-run; its summary shows the
 * resend, the receiver's dropped duplicates, and checks from the receiver's files that every record of
 * the run is stored exactly once.
 */
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { execa } from 'execa';
import { chalk } from 'zx';
import { opt, parseCli } from '../shared/cli.ts';
import { FaultProxy } from '../shared/fault-proxy.ts';
import { readRecordLines } from '../shared/storage/read-records.ts';
import { findLesson, LESSONS, lessonFolder, lessonRunDirs, type LessonInfo } from './lib/lessons.ts';
import { REPO_ROOT, startProgram, type Program, type ProgramEvent } from './lib/launch.ts';

/**
 * A path the user typed, from where they ran npm (INIT_CWD), as checks/harness/runner.ts resolves it: a
 * copy, not an import — the launcher runs in the Docker image, which has no checks/ (issue 20.5).
 */
const userPath = (p: string): string => resolve(process.env['INIT_CWD'] ?? process.cwd(), p);

// Arguments after a `--` go to the experiment, or replace the demo client's arguments.
const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const ownArgs = sep === -1 ? argv : argv.slice(0, sep);
const passThrough = sep === -1 ? [] : argv.slice(sep + 1);
// The lesson id is the one positional word; take it out before the flags are parsed.
const lessonId = ownArgs.find((a) => /^day\d\d$|^stack$|^scale$/.test(a));
// The capstone has its own launcher (its own flags): every lane at once; so has the scale-out topology.
if (lessonId === 'stack') await import('./stack.ts');
else if (lessonId === 'scale') await import('./scale.ts');
else await runLesson();

/** A path as the user would type it: relative to where they ran npm when it is below that, else absolute. */
function shown(p: string): string {
  const abs = resolve(REPO_ROOT, p);
  const rel = relative(process.env.INIT_CWD ?? REPO_ROOT, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** A figure from a done line: a number or string as it is, else the fallback. */
function figure(v: unknown, fallback = '?'): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : fallback;
}

async function runLesson(): Promise<void> {
  const args = parseCli(
    {
      name: 'npm run lesson --',
      summary: 'Run a lesson end to end: its receiver, then its client against it.',
      options: {
        list: opt.flag('--list', 'list the lessons and exit'),
        once: opt.flag('--once', 'exit after the demo run instead of keeping the receiver up'),
        port: opt.int(
          '--port <n>',
          "receiver port (default: the lesson's port from COURSE.md; 0 = any free port)",
          undefined,
          { max: 65535 },
        ),
        lessons: opt.string(
          '--lessons <dir>',
          "run the programs of this lessons folder (a learner's copy: DIR/<day>/receiver.ts, …) instead of the repo's lessons/",
        ),
        dataDir: opt.string(
          '--data-dir <dir>',
          "this run's files: <dir>/receiver (the receiver's data), <dir>/shipper (the client's state) (default data/lesson/<day>, emptied at the start)",
        ),
        quiet: opt.flag('--quiet', "hide the programs' own log lines"),
        experiment: opt.flag(
          '--experiment',
          "run the lesson's experiment (scripts/experiments/<day>.ts, or <day>/experiment.ts in the lessons folder) instead",
        ),
      },
      epilog: [
        `Lessons: ${LESSONS.map((l) => l.id).join(', ')}`,
        'Example: npm run lesson -- day08',
        '         npm run lesson -- day08 --once --port 0',
        '         npm run lesson -- day09 --lessons my-course/lessons     (a copy from npm run starter -- day09 --out my-course)',
        "         npm run lesson -- day12 --experiment -- --records 20000 (after --: the experiment's own flags)",
        "         npm run lesson -- day08 --once -- --generate 1000       (after --: the demo client's arguments instead of the demo's)",
      ].join('\n'),
    },
    ['node', 'run-lesson', ...ownArgs.filter((a) => a !== lessonId)],
  );

  if (args.list) {
    for (const l of LESSONS) console.log(`${l.id}  ${l.title}  (port ${l.port})`);
    process.exit(0);
  }
  const lesson = lessonId ? findLesson(lessonId) : undefined;
  if (!lesson) {
    console.error(`npm run lesson: name a lesson (${LESSONS.map((l) => l.id).join(', ')}); --list shows them`);
    process.exit(2);
  }
  const lessonsRoot = args.lessons ? userPath(args.lessons) : join(REPO_ROOT, 'lessons');
  if (args.experiment) await runExperiment(lesson, lessonsRoot, args.lessons !== undefined);

  const folder = lessonFolder(lessonsRoot, lesson.id, ['receiver.ts', `${lesson.client}.ts`]);
  if ('error' in folder) {
    console.error(`npm run lesson: ${folder.error}`);
    process.exit(2);
  }
  const dirs = lessonRunDirs(lesson.id, args.dataDir ? userPath(args.dataDir) : undefined);
  await freshRunDir(dirs.run, args.dataDir === undefined);

  const COLORS = [chalk.cyan, chalk.magenta, chalk.yellow, chalk.green, chalk.blue];
  const programs: Program[] = [];
  let proxy: FaultProxy | undefined;
  function launch(
    role: string,
    file: string,
    programArgs: string[],
    onEvent?: (ev: ProgramEvent) => void,
    show = (_ev: ProgramEvent) => true,
  ): Program {
    const color = COLORS[programs.length % COLORS.length]!;
    const tag = color(`[${lesson!.id} ${role}]`.padEnd(20));
    const p = startProgram({
      name: `${lesson!.id} ${role}`,
      file,
      args: programArgs,
      onLog: (line) => {
        if (!args.quiet) process.stderr.write(`${tag} ${line}\n`);
      },
      onEvent: (ev) => {
        onEvent?.(ev);
        if (show(ev)) process.stdout.write(`${tag} ${chalk.bold(JSON.stringify(ev))}\n`);
      },
    });
    programs.push(p);
    return p;
  }

  let stopping = false;
  async function stopAll(code: number): Promise<never> {
    stopping = true;
    await proxy?.stop();
    const results = await Promise.all(programs.map(async (p) => ({ name: p.name, ...(await p.stop()) })));
    for (const r of results) {
      const ok = r.exitCode === 0;
      console.log(`${ok ? chalk.green('✓') : chalk.red('✗')} ${r.name} exited ${r.exitCode ?? r.signal}`);
      if (!ok) code = code || 1;
    }
    process.exit(code);
  }
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const receiverFile = join(folder.dir, 'receiver.ts');
  const clientFile = join(folder.dir, `${lesson.client}.ts`);
  const receiver = launch('receiver', receiverFile, [
    '--port',
    String(args.port ?? lesson.port),
    '--data-dir',
    dirs.receiver,
    ...(lesson.demoReceiver ?? []),
  ]);
  let ready: Awaited<Program['ready']>;
  try {
    ready = await receiver.ready;
  } catch (err) {
    console.error(chalk.red(`receiver did not start: ${(err as Error).message}`));
    if (/EADDRINUSE/.test((err as Error).message))
      console.error(`port ${args.port ?? lesson.port} is in use: pass --port 0 for any free port`);
    return stopAll(1);
  }
  const target = `${ready.host}:${ready.port}`;
  let clientTarget = target;
  if (lesson.cutOnce) {
    proxy = new FaultProxy({ targetHost: ready.host, targetPort: ready.port });
    clientTarget = `127.0.0.1:${await proxy.start()}`;
  }
  console.log(chalk.bold(`\n${lesson.id}: ${lesson.title}`));
  console.log(`  programs  ${shown(folder.dir)}  (${lesson.client}.ts against receiver.ts)`);
  console.log(`  receiver  ${target}  (pid ${receiver.pid})`);
  console.log(
    `  data      ${shown(dirs.receiver)}${lesson.stateful ? `, the shipper's state in ${shown(dirs.shipper)}` : ''}`,
  );
  if (proxy) {
    console.log(
      `  network   the shipper sends to a fault proxy on ${clientTarget} → ${target}; it cuts the connection once, mid-run`,
    );
    const at = lesson.demoReceiver?.indexOf('--fsync-interval-ms') ?? -1;
    const every = at === -1 ? undefined : lesson.demoReceiver![at + 1];
    if (every)
      console.log(
        `            (the receiver fsyncs every ${every} ms: the cut finds records it holds but has not made durable)`,
      );
  }
  console.log('');

  // ---- the demo client ------------------------------------------------------------------------------
  const demo = passThrough.length ? passThrough : lesson.demo;
  const gen = demo.indexOf('--generate');
  const total = gen === -1 ? 0 : Number(demo[gen + 1] ?? 0);
  const clientArgs = ['--target', clientTarget, ...demo];
  if (lesson.stateful) clientArgs.push('--state-dir', dirs.shipper);
  // the day 14 load generator verifies delivery from the receiver's files
  if (lesson.client === 'loadgen') clientArgs.push('--verify-dir', dirs.receiver);
  const cut = proxy ? cutOnceMidRun(proxy, total) : undefined;
  // the cut watches the shipper's progress lines; they are the launcher's, not shown
  if (cut) clientArgs.push('--progress-ms', '50');
  const client = launch(
    lesson.client,
    clientFile,
    clientArgs,
    cut ? (ev) => cut.onEvent(ev) : undefined,
    cut ? (ev) => ev.event !== 'progress' : undefined,
  );
  const done = await client.done;
  const clientExit = await client.exit;
  programs.splice(programs.indexOf(client), 1);
  if (stopping) await new Promise(() => {});
  cut?.disarm();
  await proxy?.stop();

  // ---- the summary -----------------------------------------------------------------------------------
  const sent = Number(done?.sent ?? 0);
  const stats = await receiverStats(dirs.receiver, receiver.pid, sent);
  let code = clientExit.exitCode === 0 ? 0 : 1;
  console.log(chalk.bold('\nsummary'));
  console.log(
    `  ${lesson.client}: sent ${sent} records in ${figure(done?.elapsedMs)} ms (${figure(done?.recordsPerSec ?? done?.achievedRate)} records/s)${done?.acked !== undefined ? `, acked ${figure(done.acked)}` : ''}, exit ${clientExit.exitCode}`,
  );
  if (proxy) {
    const c = proxy.counters;
    console.log(
      cut!.at
        ? `  network: the proxy cut the connection once, at sent ${cut!.at.sent} / acked ${cut!.at.acked} (${c.connectionsBroken} connection broken)`
        : chalk.yellow('  network: no cut: the run ended before its middle was seen'),
    );
    console.log(
      `  shipper: ${figure(done?.reconnects, '0')} reconnect(s), ${figure(done?.resent, '0')} records resent (everything after the HELLO's ACK)`,
    );
  }
  const r = stats.records ?? {};
  console.log(
    `  receiver: ${r.persisted ?? 0} persisted, ${proxy ? `${r.duplicates ?? 0} duplicates dropped, ` : ''}${r.rejected ?? 0} rejected (${shown(join(dirs.receiver, 'stats.json'))})`,
  );
  if (proxy && done && typeof done.stream === 'number') {
    const v = await storedOnce(dirs.receiver, done.stream, Number(done.firstSeq), Number(done.lastSeq));
    const range = `seqs ${String(done.firstSeq)}..${String(done.lastSeq)} of stream ${done.stream}`;
    if (v.missing === 0 && v.doubled === 0)
      console.log(`  stored exactly once: ${range}, each once in ${shown(dirs.receiver)} ${chalk.green('✓')}`);
    else {
      console.log(
        chalk.red(
          `  NOT stored exactly once: ${range}: ${v.missing} missing, ${v.doubled} stored more than once (${shown(dirs.receiver)}) ✗`,
        ),
      );
      code = 1;
    }
  }
  if (args.once) await stopAll(code);
  console.log(
    `\nThe receiver keeps running on ${target}. Send more with:\n  npx tsx ${shown(clientFile)} --target ${target} --input FILE\nCtrl-C stops it.`,
  );
}

/** Runs the day's experiment: scripts/experiments/<day>.ts (told --lessons), else <lessons>/<day>/experiment.ts. */
async function runExperiment(lesson: LessonInfo, lessonsRoot: string, fromCopy: boolean): Promise<never> {
  const script = join(REPO_ROOT, 'scripts', 'experiments', `${lesson.id}.ts`);
  let argv: string[];
  const day = lessonFolder(lessonsRoot, lesson.id, []);
  if ('error' in day) {
    console.error(`npm run lesson: ${day.error}`);
    process.exit(2);
  }
  if (existsSync(script)) {
    argv = [script, ...(fromCopy ? ['--lessons', lessonsRoot] : []), ...passThrough];
  } else {
    const own = lessonFolder(lessonsRoot, lesson.id, ['experiment.ts']);
    if ('error' in own) {
      console.error(
        `npm run lesson: ${lesson.id} has no experiment (scripts/experiments/${lesson.id}.ts or ${shown(join(day.dir, 'experiment.ts'))}); see its README`,
      );
      process.exit(2);
    }
    argv = [join(own.dir, 'experiment.ts'), ...passThrough];
  }
  console.error(chalk.dim(`experiment: npx tsx ${shown(argv[0]!)} ${argv.slice(1).join(' ')}`.trimEnd()));
  const r = await execa(process.execPath, ['--import', 'tsx', ...argv], {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    reject: false,
  });
  process.exit(r.exitCode ?? 1);
}

/**
 * The default run dir is the launcher's own: emptied so the summary speaks of this run only. Not while
 * a receiver of another run still writes there (its stats.json names a live pid): one line, exit 2.
 */
async function freshRunDir(run: string, isDefault: boolean): Promise<void> {
  const abs = resolve(REPO_ROOT, run);
  const stats = JSON.parse(await readFile(join(abs, 'receiver', 'stats.json'), 'utf8').catch(() => '{}')) as {
    pid?: number;
  };
  if (typeof stats.pid === 'number' && stats.pid !== process.pid && alive(stats.pid)) {
    console.error(
      `npm run lesson: ${shown(abs)} is in use by a running receiver (pid ${stats.pid}); stop that run, or pass --data-dir DIR`,
    );
    process.exit(2);
  }
  if (isDefault) await rm(abs, { recursive: true, force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Day 09's one cut [d09.3]. The receiver ACKs only right after an fsync, so the shipper's `acked` moving
 * between two progress lines (every 50 ms) means an fsync just happened. The first time it moves past a
 * quarter of the run, cut 50 ms later: by then the shipper has sent batches the receiver accepted but will
 * not make durable before its next fsync (--fsync-interval-ms), and the shipper is back (backoff ≤ 100 ms)
 * before that fsync: the HELLO's ACK is behind what the receiver holds, so some records come twice.
 */
function cutOnceMidRun(proxy: FaultProxy, total: number) {
  let acked = 0;
  let timer: NodeJS.Timeout | undefined;
  const state: { at?: { sent: number; acked: number }; onEvent(ev: ProgramEvent): void; disarm(): void } = {
    onEvent(ev) {
      if (ev.event !== 'progress') return;
      const now = { sent: Number(ev.sent ?? 0), acked: Number(ev.acked ?? 0) };
      const moved = now.acked > acked;
      acked = now.acked;
      if (timer || !moved || now.acked < total / 4 || now.acked >= total) return;
      timer = setTimeout(() => {
        state.at = now;
        proxy.cut();
      }, 50);
    },
    disarm() {
      clearTimeout(timer);
    },
  };
  return state;
}

interface ReceiverStatsFile {
  pid?: number;
  records?: { persisted?: number; rejected?: number; duplicates?: number };
}

/** The receiver's stats.json once it is this receiver's and covers the run (it is rewritten every second). */
async function receiverStats(dataDir: string, pid: number, sent: number): Promise<ReceiverStatsFile> {
  const path = resolve(REPO_ROOT, dataDir, 'stats.json');
  const read = async () => JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as ReceiverStatsFile;
  const deadline = Date.now() + 5000;
  let stats = await read();
  while (
    (stats.pid !== pid || (stats.records?.persisted ?? 0) + (stats.records?.rejected ?? 0) < sent) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 100));
    stats = await read();
  }
  return stats;
}

/**
 * Every seq first..last of `stream` in the receiver's files (`_rx.stream`, `_rx.seq`): how many are
 * missing and how many are there more than once. Read after the last ACK: an ACK means durable, so on disk.
 */
async function storedOnce(
  dataDir: string,
  stream: number,
  first: number,
  last: number,
): Promise<{ missing: number; doubled: number }> {
  const n = last - first + 1;
  const seen = new Uint8Array(Math.max(0, n));
  for await (const line of readRecordLines(resolve(REPO_ROOT, dataDir))) {
    let rx: { stream?: number; seq?: number } | undefined;
    try {
      rx = (JSON.parse(line) as { _rx?: { stream?: number; seq?: number } })._rx;
    } catch {
      continue;
    }
    if (rx?.stream !== stream || typeof rx.seq !== 'number' || rx.seq < first || rx.seq > last) continue;
    const i = rx.seq - first;
    if (seen[i]! < 2) seen[i]! += 1;
  }
  let missing = 0;
  let doubled = 0;
  for (const c of seen) {
    if (c === 0) missing++;
    else if (c > 1) doubled++;
  }
  return { missing, doubled };
}
