import { describe, expect, it } from 'vitest';
import { Secrets } from '../../src/log.js';
import { envFileSecrets } from '../../src/inputs/common.js';
import { redactEvent } from '../../src/deploy/context.js';
import { reservedBuildArg } from '../../src/build/docker.js';

describe('masking', () => {
  it('env-file values of 3+ characters are secrets, quoted or not; booleans and small numbers are not', () => {
    const text = 'DB_PASS=abc\nexport TOKEN="q\\"uote"\nAPI_KEY=\'x y z\'\nDEBUG=true\nPORT=8080\nWORKERS=4\nPIN=123456\nEMPTY=\n# comment=value\nA=ab\n';
    expect(envFileSecrets(text)).toEqual(['abc', 'q\\"uote', 'x y z', '123456']);
  });

  it('a secret with quotes or backslashes is also masked in its JSON-escaped form', () => {
    const s = new Secrets();
    s.add('pa"ss\\word');
    expect(s.redact(JSON.stringify({ v: 'pa"ss\\word' }))).toBe('{"v":"***"}');
    expect(s.redact('pa"ss\\word')).toBe('***');
  });

  it('history events are redacted in every string, nested too', () => {
    const s = new Secrets();
    s.add('hunter22');
    const e = redactEvent({ type: 'deploy-failed', error: 'out: hunter22', nested: { list: ['a hunter22 b', 3] }, n: 1 }, (t) => s.redact(t));
    expect(e).toEqual({ type: 'deploy-failed', error: 'out: ***', nested: { list: ['a *** b', 3] }, n: 1 });
  });

  it('build-arg names that would redirect the docker CLI are reserved', () => {
    for (const n of ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'docker_tls_verify', 'BUILDKIT_HOST', 'LD_PRELOAD', 'SSL_CERT_FILE']) expect(reservedBuildArg(n)).toBe(true);
    for (const n of ['NPM_TOKEN', 'APP_VERSION', 'HTTP_PROXY', 'PATHS', 'MY_HOME']) expect(reservedBuildArg(n)).toBe(false);
  });
});
