// scale: the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('scale');
await fixtureSuite('scale', { skipUnaffected: true, timeoutMs: 480_000 });
