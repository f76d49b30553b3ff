import { describe, expect, it } from 'vitest';
import { bypassesProxy, proxyFor } from '../../src/build/http.js';
import { isInsecureRegistry, parseImageName, parseRegistryConfig, pushedDigest } from '../../src/build/registry.js';

describe('which registries the engine lets us speak plain HTTP to', () => {
  const cfg = parseRegistryConfig(
    JSON.stringify({
      InsecureRegistryCIDRs: ['127.0.0.0/8', '10.231.0.0/16', 'fd00::/8'],
      IndexConfigs: { 'docker.io': { Name: 'docker.io', Secure: true }, 'reg.lan:5000': { Name: 'reg.lan:5000', Secure: false }, 'named.lan': { Name: 'named.lan', Secure: true } },
    }),
  );
  it.each([
    ['127.0.0.1:5000', true],
    ['10.231.0.1:5055', true],
    ['10.213.4.1:5000', false],
    ['[fd00::1]:5000', true],
    ['reg.lan:5000', true],
    ['docker.io', false],
  ])('%s → insecure %s', async (reg, want) => {
    expect(await isInsecureRegistry(reg, cfg, async () => [])).toBe(want);
  });
  it('resolves names and checks every address; a name configured secure stays secure', async () => {
    expect(await isInsecureRegistry('build.lan:5000', cfg, async () => ['192.0.2.1', '10.231.9.9'])).toBe(true);
    expect(await isInsecureRegistry('ghcr.io', cfg, async () => ['140.82.112.34'])).toBe(false);
    expect(await isInsecureRegistry('named.lan', cfg, async () => ['127.0.0.1'])).toBe(false);
  });
  it('image names and pushed digests', () => {
    expect(parseImageName('10.231.0.1:5055/acme/shop:1')).toEqual({ registry: '10.231.0.1:5055', repository: 'acme/shop' });
    expect(parseImageName('shop')).toEqual({ registry: 'docker.io', repository: 'library/shop' });
    expect(pushedDigest(`latest: digest: sha256:${'a'.repeat(64)} size: 527`)).toBe(`sha256:${'a'.repeat(64)}`);
  });
});

describe('proxy variables', () => {
  it('NO_PROXY: names, domains, ports, *', () => {
    expect(bypassesProxy('reg.corp.example', 443, 'corp.example')).toBe(true);
    expect(bypassesProxy('reg.corp.example', 443, '.corp.example')).toBe(true);
    expect(bypassesProxy('corp.example', 443, '.corp.example')).toBe(true);
    expect(bypassesProxy('evilcorp.example', 443, 'corp.example')).toBe(false);
    expect(bypassesProxy('10.0.0.5', 5000, '10.0.0.5:5001')).toBe(false);
    expect(bypassesProxy('10.0.0.5', 5000, 'x, 10.0.0.5:5000')).toBe(true);
    expect(bypassesProxy('anything', 1, '*')).toBe(true);
  });
  it('HTTPS_PROXY for https, HTTP_PROXY for http, lower case too', () => {
    const env = { https_proxy: 'proxy:3128', HTTP_PROXY: 'http://p2:8080', NO_PROXY: 'localhost' };
    expect(proxyFor(new URL('https://ghcr.io/v2/'), env)?.host).toBe('proxy:3128');
    expect(proxyFor(new URL('http://reg:5000/v2/'), env)?.host).toBe('p2:8080');
    expect(proxyFor(new URL('http://localhost:5000/v2/'), env)).toBeUndefined();
    expect(proxyFor(new URL('https://ghcr.io/'), {})).toBeUndefined();
  });
});

describe('image names', () => {
  it('lowercases the repository (registry and path), never the tag or digest', async () => {
    const { lowercaseRepository } = await import('../../src/inputs/common.js');
    expect(lowercaseRepository('ghcr.io/Acme/Shop')).toBe('ghcr.io/acme/shop');
    expect(lowercaseRepository('ghcr.io/Acme/Shop:V1.2-RC')).toBe('ghcr.io/acme/shop:V1.2-RC');
    expect(lowercaseRepository('Registry.Example:5000/Acme/Shop:Tag@sha256:abc')).toBe('registry.example:5000/acme/shop:Tag@sha256:abc');
    expect(lowercaseRepository('Registry.Example:5000/Acme/Shop')).toBe('registry.example:5000/acme/shop');
    expect(lowercaseRepository('acme/shop:1')).toBe('acme/shop:1');
  });
});
