// day09: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day09');
await fixtureSuite('day09', { skipUnaffected: true });
