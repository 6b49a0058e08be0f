// scale: the reference passes every check, and every fixture fails exactly the checks it names.
// Every check starts a 3-node nats-server cluster: without nats-server they are skipped outside CI
// (tests/support/peers.ts names the command that installs it); under CI=true they run and fail.
import { skipChecksNeeding } from '../tests/support/peers.ts';
import { fixtureSuite, referenceSuite } from './suites.ts';

await skipChecksNeeding({
  'scale.1': ['nats-server'],
  'scale.2': ['nats-server'],
  'scale.3': ['nats-server'],
  'scale.4': ['nats-server'],
});
await referenceSuite('scale');
await fixtureSuite('scale', { skipUnaffected: true, timeoutMs: 480_000 });
