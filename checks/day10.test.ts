// day10: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day10');
await fixtureSuite('day10', { skipUnaffected: true });
