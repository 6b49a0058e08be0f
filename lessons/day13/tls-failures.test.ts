// The table from OpenSSL/Node error codes to reasons and advice (tls-failures.ts).
import { describe, expect, it } from 'vitest';
import { classifyServerFailure, explainClientFailure, isVerificationFailure, type ServerView } from './tls-failures.ts';

const view: ServerView = {
  minVersion: 'TLSv1.2',
  mtls: true,
  caFile: 'certs/ca.crt',
  certExpired: false,
  certNotAfter: '2027-01-01T00:00:00.000Z',
};

describe('classifyServerFailure', () => {
  it.each([
    [{ code: 'ERR_SSL_UNSUPPORTED_PROTOCOL' }, undefined, 'protocol_version'],
    [{ code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' }, undefined, 'no_client_cert'],
    [{ code: 'ECONNRESET' }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unknown_ca'],
    [{ code: 'ECONNRESET' }, 'SELF_SIGNED_CERT_IN_CHAIN', 'unknown_ca'],
    [{ code: 'ECONNRESET' }, 'CERT_HAS_EXPIRED', 'expired'],
    [{ code: 'ECONNRESET' }, 'CERT_NOT_YET_VALID', 'not_yet_valid'],
    [{ code: 'ECONNRESET' }, 'CERT_REVOKED', 'bad_client_cert'],
    [{ code: 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA' }, undefined, 'unknown_ca'],
    [{ code: 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED' }, undefined, 'expired'],
    [{ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, undefined, 'plaintext'],
    [{ code: 'ERR_SSL_HTTP_REQUEST' }, undefined, 'plaintext'],
    [{ code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }, undefined, 'handshake_timeout'],
    [{ code: 'ERR_SSL_NO_SHARED_CIPHER' }, undefined, 'no_shared_cipher'],
    [{ code: 'ECONNRESET' }, undefined, 'client_closed'],
    [{ code: 'ERR_SOMETHING_NEW' }, undefined, 'other'],
  ])('%j with authorizationError %s → %s', (err, auth, reason) => {
    const c = classifyServerFailure(err, auth, view);
    expect(c.reason).toBe(reason);
    expect(c.message.length).toBeGreaterThan(20);
  });

  it('a client hanging up while our own certificate is expired is counted as expired, and says so', () => {
    const c = classifyServerFailure({ code: 'ECONNRESET' }, undefined, { ...view, certExpired: true });
    expect(c.reason).toBe('expired');
    expect(c.message).toContain(view.certNotAfter);
  });

  it('names the client CA file in the unknown_ca advice', () => {
    expect(classifyServerFailure({ code: 'ECONNRESET' }, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', view).message).toContain(
      'certs/ca.crt',
    );
  });
});

describe('explainClientFailure', () => {
  const ctx = { target: '127.0.0.1:5145', caFile: 'certs/other-ca.crt', hasClientCert: false };
  it.each([
    ['CERT_HAS_EXPIRED', /EXPIRED/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by the CA in --ca certs\/other-ca\.crt/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /--ca/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /not for the name you dialled, 127\.0\.0\.1:5145/],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', /--cert and --key/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', /plain TCP receiver/],
  ])('%s → %s', (code, re) => {
    expect(explainClientFailure({ code, message: 'm' }, ctx)).toMatch(re);
  });

  it('falls back to the code and message', () => {
    expect(explainClientFailure({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, ctx)).toBe(
      'ECONNREFUSED: connect ECONNREFUSED',
    );
  });
});

describe('isVerificationFailure', () => {
  it('knows the codes that mean "not the receiver we meant"', () => {
    for (const c of ['CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID'])
      expect(isVerificationFailure(c)).toBe(true);
    for (const c of ['ECONNRESET', 'ECONNREFUSED', undefined]) expect(isVerificationFailure(c)).toBe(false);
  });
});
