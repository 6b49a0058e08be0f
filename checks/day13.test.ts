// day13: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day13');
await fixtureSuite('day13', { skipUnaffected: true });
