// stack (the capstone): the reference passes every check, and every fixture fails exactly the checks it names.
import { fixtureSuite, referenceSuite } from './suites.ts';

await referenceSuite('stack');
await fixtureSuite('stack');
