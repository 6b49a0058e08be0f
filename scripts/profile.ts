/**
 * `npm run profile -- <lesson>`: a clinic flame graph of a lesson's receiver while the lesson's shipper
 * sends it `--records` generated records. Clinic starts the receiver, runs the shipper once the receiver
 * listens ($PORT), and writes the flame graph under .clinic/. NO_INSIGHT=1 keeps clinic quiet off a terminal.
 */
import { $ } from 'zx';
import { opt, parseCli } from '../shared/cli.ts';
import { findLesson, LESSONS } from './lib/lessons.ts';
import { REPO_ROOT } from './lib/launch.ts';

const lessonId = process.argv.slice(2).find((a) => /^day\d\d$/.test(a));
const args = parseCli(
  {
    name: 'npm run profile --',
    summary: "Flame-graph a lesson's receiver under load with clinic.",
    options: { records: opt.int('--records <n>', 'records the shipper sends', 500_000, { min: 1 }) },
    epilog: `Lessons: ${LESSONS.map((l) => l.id).join(', ')}\nExample: npm run profile -- day08`,
  },
  process.argv.filter((a) => a !== lessonId),
);
const lesson = lessonId ? findLesson(lessonId) : undefined;
if (!lesson) {
  console.error(`npm run profile: name a lesson (${LESSONS.map((l) => l.id).join(', ')})`);
  process.exit(2);
}
$.cwd = REPO_ROOT;
$.verbose = true;
process.env.NO_INSIGHT = '1';
const client = `${process.execPath} --import tsx lessons/${lesson.id}/${lesson.client}.ts --target 127.0.0.1:$PORT --generate ${args.records}`;
await $`npx clinic flame --dest .clinic --on-port ${client} -- ${process.execPath} --import tsx lessons/${lesson.id}/receiver.ts --port 0 --data-dir .work/profile/${lesson.id}`;
console.log('Open the .html file under .clinic/ in a browser.');
