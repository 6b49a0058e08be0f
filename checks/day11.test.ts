// day11: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day11');
await fixtureSuite('day11', { skipUnaffected: true });
