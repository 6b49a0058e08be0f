// day08: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('day08');
await fixtureSuite('day08', { skipUnaffected: true });
