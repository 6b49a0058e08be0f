// stack (the capstone): the reference passes every check, and every fixture fails exactly the checks it names.
// stack.2 and stack.3 drive real syslog clients (util-linux logger, rsyslogd): without them those are
// skipped outside CI (tests/support/peers.ts names the command that installs them); under CI=true they fail.
import { skipChecksNeeding } from '../tests/support/peers.ts';
import { fixtureSuite, referenceSuite } from './suites.ts';

await skipChecksNeeding({ 'stack.2': ['logger'], 'stack.3': ['rsyslogd', 'logger'] });
await referenceSuite('stack');
await fixtureSuite('stack');
