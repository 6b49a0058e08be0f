/**
 * Day 13 — why a TLS handshake failed, in words a learner can act on [d13.3–d13.7].
 *
 * OpenSSL reports a failed handshake as an error code (`ERR_SSL_…`, `CERT_HAS_EXPIRED`, …). Those are
 * precise but cryptic, and the side that sees the failure is often not the side that must fix it. So
 * both programs of the lesson turn them into:
 *
 *   receiver  a REASON (counted in stats.json → tls.handshakeFailures, shown by the dashboard and
 *             /metrics) and a message saying what the CLIENT should change;
 *   shipper   a message saying what is wrong with the RECEIVER's certificate, or with its own setup.
 *
 * Nothing here touches a socket: it is a table from error codes to explanations (tested in
 * tls-failures.test.ts).
 */

/** The reasons a receiver counts (stats.json → tls.handshakeFailures). */
export type HandshakeFailureReason =
  | 'plaintext'
  | 'protocol_version'
  | 'no_client_cert'
  | 'unknown_ca'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_client_cert'
  | 'client_closed'
  | 'handshake_timeout'
  | 'no_shared_cipher'
  | 'other';

export interface Classified {
  reason: HandshakeFailureReason;
  /** one line: what happened and what to do about it */
  message: string;
}

/** What the receiver knows about itself when it explains a failure. */
export interface ServerView {
  minVersion: string;
  mtls: boolean;
  /** where the client CA comes from (for messages) */
  caFile: string;
  /** our own certificate is past its notAfter */
  certExpired: boolean;
  certNotAfter: string;
}

/** Node's verification codes (X509_V_ERR_* names) that mean "not signed by a CA I trust". */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_CHAIN_TOO_LONG',
]);

/**
 * Receiver side: classifies a `tlsClientError`. `authorizationError` is the TLS socket's verdict on
 * the client's certificate (mTLS): Node verifies it after the handshake and destroys the socket, so
 * the error the server sees is then only "socket hang up" and the reason is in the socket.
 */
export function classifyServerFailure(
  err: { code?: string; message?: string },
  authorizationError: string | undefined,
  view: ServerView,
): Classified {
  const code = err.code ?? '';
  if (authorizationError) {
    if (authorizationError === 'CERT_HAS_EXPIRED')
      return {
        reason: 'expired',
        message: `the client certificate has expired: issue a new one (npm run certs, or issueClientCert) and give it to the shipper with --cert/--key`,
      };
    if (authorizationError === 'CERT_NOT_YET_VALID')
      return {
        reason: 'not_yet_valid',
        message: 'the client certificate is not valid yet: check the clock on the client machine (or its notBefore)',
      };
    if (UNTRUSTED.has(authorizationError))
      return {
        reason: 'unknown_ca',
        message: `the client certificate is not signed by our client CA (${view.caFile}) [${authorizationError}]: issue the client a certificate from that CA, or point --ca at the CA that signed it`,
      };
    return {
      reason: 'bad_client_cert',
      message: `the client certificate was refused (${authorizationError}): issue it a fresh one from ${view.caFile}`,
    };
  }
  switch (code) {
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
    case 'ERR_SSL_VERSION_TOO_LOW':
    case 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION':
      return {
        reason: 'protocol_version',
        message: `the client offered only TLS versions older than ${view.minVersion} (--min-tls): TLS 1.0 and 1.1 are broken and refused; update the client (or stop pinning its maxVersion)`,
      };
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return {
        reason: 'no_client_cert',
        message:
          'mutual TLS (--mtls): the client sent no certificate; give the shipper --cert and --key (e.g. certs/client-shipper-1.crt / .key)',
      };
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
      return {
        reason: 'unknown_ca',
        message:
          "the client does not trust our certificate (TLS alert): give the client the CA that signed it (certs/ca.crt, the shipper's --ca)",
      };
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
      return {
        reason: 'expired',
        message: `the client says our certificate has expired (notAfter ${view.certNotAfter}): rotate it (npm run certs -- --rotate-server); it is reloaded without a restart`,
      };
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_HTTP_REQUEST':
    case 'ERR_SSL_HTTPS_PROXY_REQUEST':
      return {
        reason: 'plaintext',
        message:
          'the client is not speaking TLS on this TLS port: use the day 13 shipper (or a TLS client) — never plaintext here',
      };
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return {
        reason: 'handshake_timeout',
        message:
          'the client did not finish the handshake in time (--handshake-timeout-ms): a stalled or very slow client, or a port scanner',
      };
    case 'ERR_SSL_NO_SHARED_CIPHER':
      return {
        reason: 'no_shared_cipher',
        message: 'no cipher suite in common with the client: it offers only suites we consider weak; update the client',
      };
    case 'ECONNRESET':
    case 'EPIPE':
    case '':
      // A Node client that refuses our certificate simply closes: no alert tells us why. What we
      // know is whether OUR certificate is expired — then that is almost certainly it.
      if (view.certExpired)
        return {
          reason: 'expired',
          message: `the client closed during the handshake and our certificate expired at ${view.certNotAfter}: every verifying client refuses it; rotate it (npm run certs -- --rotate-server), it is reloaded without a restart`,
        };
      return {
        reason: 'client_closed',
        message:
          'the client closed during the handshake: most likely it does not trust our certificate (its --ca is not the CA that signed ours) or our name does not match the one it dialled (see our SANs in the ready line)',
      };
    default:
      return { reason: 'other', message: `handshake failed (${code || err.message || 'unknown error'})` };
  }
}

/** Shipper side: the receiver's certificate (or the TLS setup) was refused; say why and what to do. */
export function explainClientFailure(
  err: { code?: string; message?: string },
  ctx: { target: string; caFile: string; hasClientCert: boolean },
): string {
  const code = err.code ?? '';
  if (code === 'CERT_HAS_EXPIRED')
    return `the receiver's certificate has EXPIRED (${code}): the receiver must renew it (npm run certs -- --rotate-server; it reloads without a restart). Do not turn verification off to get past this: an expired certificate proves nothing about who answers.`;
  if (code === 'CERT_NOT_YET_VALID')
    return `the receiver's certificate is not valid yet (${code}): check the clocks of both machines.`;
  if (UNTRUSTED.has(code))
    return `the receiver's certificate is not signed by the CA in --ca ${ctx.caFile} (${code}): this is not the receiver you meant, or --ca is the wrong CA. Give --ca the CA that signed the receiver's certificate (certs/ca.crt).`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return `the receiver's certificate is not for the name you dialled, ${ctx.target} (${code}: ${err.message ?? ''}): connect by one of its names, or issue it a certificate with this one.`;
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' || code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE') {
    return ctx.hasClientCert
      ? `the receiver refused the handshake (${code}).`
      : `the receiver requires a client certificate (mutual TLS, ${code}): give --cert and --key (e.g. certs/client-shipper-1.crt / .key).`;
  }
  if (code === 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' || code === 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE')
    return `the receiver does not trust our client certificate (${code}): use a certificate signed by the receiver's client CA.`;
  if (code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' || code === 'ERR_SSL_UNSUPPORTED_PROTOCOL')
    return `no TLS version in common with the receiver (${code}).`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG')
    return `the receiver did not answer in TLS (${code}): is ${ctx.target} a plain TCP receiver (day 09)? Point --target at a day 13 receiver.`;
  return `${code ? `${code}: ` : ''}${err.message ?? 'TLS error'}`;
}

/** Codes that mean the receiver's identity could not be verified (the connection must never be used). */
export function isVerificationFailure(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (UNTRUSTED.has(code) ||
      code === 'CERT_HAS_EXPIRED' ||
      code === 'CERT_NOT_YET_VALID' ||
      code === 'ERR_TLS_CERT_ALTNAME_INVALID')
  );
}
