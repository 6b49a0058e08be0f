/**
 * `npm run lesson -- <day>`: starts a lesson's receiver, waits for its ready line, runs the lesson's
 * client against it, prints a summary, and keeps the receiver up until Ctrl-C (or exits after the
 * summary with --once). Each process's output is prefixed and coloured. `--list` lists lessons.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { join, resolve } from 'node:path';
import { chalk } from 'zx';
import { opt, parseCli } from '../shared/cli.ts';
import { findLesson, LESSONS } from './lib/lessons.ts';
import { REPO_ROOT, startProgram, type Program } from './lib/launch.ts';

// The lesson id is the one positional word; take it out before the flags are parsed.
const lessonId = process.argv.slice(2).find((a) => /^day\d\d$|^stack$|^scale$/.test(a));
// The capstone has its own launcher (its own flags): every lane at once; so has the scale-out topology.
if (lessonId === 'stack') await import('./stack.ts');
else if (lessonId === 'scale') await import('./scale.ts');
else await runLesson();

async function runLesson(): Promise<void> {
  const args = parseCli({
    name: 'npm run lesson --',
    summary: 'Run a lesson end to end: its receiver, then its client against it.',
    options: {
      list: opt.flag('--list', 'list the lessons and exit'),
      once: opt.flag('--once', 'exit after the demo run instead of keeping the receiver up'),
      port: opt.int('--port <n>', "receiver port (default: the lesson's port from COURSE.md; 0 = any free port)", undefined, { max: 65535 }),
      dataDir: opt.string('--data-dir <dir>', 'receiver data dir (default data/<lesson>)'),
      quiet: opt.flag('--quiet', "hide the programs' own log lines"),
      experiment: opt.flag('--experiment', "run the lesson's experiment (scripts/experiments/<day>.ts) instead"),
    },
    epilog: `Lessons: ${LESSONS.map((l) => l.id).join(', ')}\nExample: npm run lesson -- day08\n         npm run lesson -- day08 --once --port 0`,
  }, process.argv.filter((a) => a !== lessonId));

  if (args.list) {
    for (const l of LESSONS) console.log(`${l.id}  ${l.title}  (port ${l.port})`);
    process.exit(0);
  }
  const lesson = lessonId ? findLesson(lessonId) : undefined;
  if (!lesson) {
    console.error(`npm run lesson: name a lesson (${LESSONS.map((l) => l.id).join(', ')}); --list shows them`);
    process.exit(2);
  }
  if (args.experiment) {
    const script = join(REPO_ROOT, 'scripts', 'experiments', `${lesson.id}.ts`);
    if (!existsSync(script)) {
      console.error(`npm run lesson: ${lesson.id} has no experiment script (${script}); see its README`);
      process.exit(2);
    }
    const r = await execa(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: 'inherit', reject: false });
    process.exit(r.exitCode ?? 1);
  }

  const COLORS = [chalk.cyan, chalk.magenta, chalk.yellow, chalk.green, chalk.blue];
  const programs: Program[] = [];
  function launch(role: string, file: string, programArgs: string[]): Program {
    const color = COLORS[programs.length % COLORS.length]!;
    const tag = color(`[${lesson!.id} ${role}]`.padEnd(20));
    const p = startProgram({
      name: `${lesson!.id} ${role}`,
      file,
      args: programArgs,
      onLog: (line) => {
        if (!args.quiet) process.stderr.write(`${tag} ${line}\n`);
      },
      onEvent: (ev) => process.stdout.write(`${tag} ${chalk.bold(JSON.stringify(ev))}\n`),
    });
    programs.push(p);
    return p;
  }

  let stopping = false;
  async function stopAll(code: number): Promise<never> {
    stopping = true;
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

  const dataDir = args.dataDir ?? join('data', lesson.id);
  const receiver = launch('receiver', `lessons/${lesson.id}/receiver.ts`, ['--port', String(args.port ?? lesson.port), '--data-dir', dataDir]);
  let ready;
  try {
    ready = await receiver.ready;
  } catch (err) {
    console.error(chalk.red(`receiver did not start: ${(err as Error).message}`));
    if (/EADDRINUSE/.test((err as Error).message)) console.error(`port ${args.port ?? lesson.port} is in use: pass --port 0 for any free port`);
    await stopAll(1);
  }
  const target = `${ready!.host}:${ready!.port}`;
  console.log(chalk.bold(`\n${lesson.id}: ${lesson.title}`));
  console.log(`  receiver  ${target}  data in ${dataDir}  (pid ${receiver.pid})\n`);

  // the day 14 load generator verifies delivery from the receiver's files
  const verify = lesson.client === 'loadgen' ? ['--verify-dir', dataDir] : [];
  const client = launch(lesson.client, `lessons/${lesson.id}/${lesson.client}.ts`, ['--target', target, ...verify, ...lesson.demo]);
  const done = await client.done;
  const clientExit = await client.exit;
  programs.splice(programs.indexOf(client), 1);
  if (stopping) await new Promise(() => {});

  // Let the receiver publish stats that include the demo run (it rewrites stats.json every second).
  const statsPath = resolve(REPO_ROOT, dataDir, 'stats.json');
  const persisted = async () => JSON.parse(await readFile(statsPath, 'utf8').catch(() => '{}')) as { records?: { persisted?: number; rejected?: number } };
  const sent = Number(done?.sent ?? 0);
  const deadline = Date.now() + 5000;
  let stats = await persisted();
  while ((stats.records?.persisted ?? 0) < sent && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    stats = await persisted();
  }
  console.log(chalk.bold('\nsummary'));
  console.log(`  ${lesson.client}: sent ${sent} records in ${done?.elapsedMs ?? '?'} ms (${done?.recordsPerSec ?? done?.achievedRate ?? '?'} records/s), exit ${clientExit.exitCode}`);
  console.log(`  receiver: ${stats.records?.persisted ?? 0} persisted, ${stats.records?.rejected ?? 0} rejected (from ${statsPath})`);
  if (args.once) await stopAll(clientExit.exitCode === 0 ? 0 : 1);
  console.log(`\nThe receiver keeps running on ${target}. Send more with:\n  npx tsx lessons/${lesson.id}/${lesson.client}.ts --target ${target} --input FILE\nCtrl-C stops it.`);
}
