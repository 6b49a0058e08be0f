// Graded checks for day 13: LSP/1 over TLS (TLS 1.2 minimum, 1.3 by default), a shipper that always
// verifies the receiver, mutual TLS with the client's subject in `_rx`, handshake failures counted by
// reason, certificate reload without dropping connections, and the dashboard.
// Black-box: the programs are driven through the process contract (CONVENTIONS.md §2). The checks make their own
// certificates with shared/tls/certs.ts (a fresh set per check, so a rotation never touches another
// check), and speak LSP/1 over their own TLS sockets where the shipper is not needed.
// The learner's TODOs (lessons/day13/README.md, "Your TODOs"): shipper.ts connectTls (verify the receiver:
// d13.3, d13.6; versions: d13.5), receiver.ts tlsOptions (versions: d13.5; mTLS: d13.7), verifiedSubject
// and identityOf (the identity in _rx: d13.7), writerOf (who may write a stream: d13.10) and maybeReload
// (rotation: d13.8); the hints below name them.
// Given, 0 points: d13.1 (the process contract; certificates come from shared/tls/certs.ts), d13.2 (day 09's
// delivery over a TLS socket), d13.4 (a plaintext client fails the TLS handshake: the lesson's first-byte
// look and tls-failures.ts count it) and d13.9 (the dashboard the lesson starts).
// The checks live one per file in checks/day13/ (what several use: day13/support.ts); this file lists them in order.
import type { Check } from './harness/types.ts';
import { d13_1 } from './day13/d13-1-process-contract-and-certs.ts';
import { d13_2 } from './day13/d13-2-tls-delivery.ts';
import { d13_3 } from './day13/d13-3-other-ca-refused.ts';
import { d13_4 } from './day13/d13-4-plaintext-refused.ts';
import { d13_5 } from './day13/d13-5-tls-versions.ts';
import { d13_6 } from './day13/d13-6-expired-certificate.ts';
import { d13_7 } from './day13/d13-7-mutual-tls.ts';
import { d13_8 } from './day13/d13-8-certificate-rotation.ts';
import { d13_9 } from './day13/d13-9-dashboard.ts';
import { d13_10 } from './day13/d13-10-stream-owners.ts';

export const lesson = 'day13';

export const checks: Check[] = [d13_1, d13_2, d13_3, d13_4, d13_5, d13_6, d13_7, d13_8, d13_9, d13_10];
