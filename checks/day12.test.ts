// day12: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day12');
await fixtureSuite('day12', { skipUnaffected: true });
