/**
 * Just enough of the registry API to read a pushed manifest: its digest (as the registry
 * computes it, not the local image id) and its size. Basic and Bearer (token) auth.
 *
 * Whether a registry is spoken to over plain HTTP is decided the way the Docker engine
 * decides it (its `RegistryConfig`: registries named insecure, and insecure CIDRs, which
 * include 127.0.0.0/8 by default): HTTPS first, and for insecure registries only, a
 * fallback to HTTP (and no certificate check). Credentials are never sent over plain HTTP
 * to a registry the engine does not treat as insecure.
 */
import { createHash } from 'node:crypto';
import dns from 'node:dns/promises';
import net from 'node:net';
import { httpGet, type HttpResponse } from './http.js';

export interface ImageName {
  registry: string;
  repository: string;
}

/** `ghcr.io/acme/shop` → ghcr.io + acme/shop; `shop` → docker.io + library/shop. */
export function parseImageName(image: string): ImageName {
  const name = image.replace(/@.*$/, '').replace(/:[^/]*$/, '');
  const first = name.split('/')[0]!;
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry) return { registry: first, repository: name.slice(first.length + 1) };
  return { registry: 'docker.io', repository: name.includes('/') ? name : `library/${name}` };
}

/** The part of `docker info`'s RegistryConfig that decides HTTP vs HTTPS. */
export interface EngineRegistryConfig {
  insecureCidrs: string[];
  /** Registries configured by name, with whether they are secure. */
  indexes: Record<string, { secure: boolean }>;
}

export function parseRegistryConfig(json: string): EngineRegistryConfig {
  const c = JSON.parse(json) as { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Name?: string; Secure?: boolean }> };
  const indexes: Record<string, { secure: boolean }> = {};
  for (const [k, v] of Object.entries(c.IndexConfigs ?? {})) indexes[v.Name ?? k] = { secure: v.Secure !== false };
  return { insecureCidrs: c.InsecureRegistryCIDRs ?? [], indexes };
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bitsText] = cidr.split('/');
  const family = net.isIP(ip);
  if (!family || family !== net.isIP(base)) return false;
  const bits = Number(bitsText ?? (family === 4 ? 32 : 128));
  const bl = new net.BlockList();
  bl.addSubnet(base, bits, family === 4 ? 'ipv4' : 'ipv6');
  return bl.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * As the engine decides (registry/config.go isSecureIndex): a registry configured by name
 * has its own setting; otherwise it is insecure if any address it resolves to is in an
 * insecure CIDR.
 */
export async function isInsecureRegistry(registry: string, cfg: EngineRegistryConfig, lookup: (host: string) => Promise<string[]> = resolveAll): Promise<boolean> {
  if (registry === 'docker.io') return false;
  const byName = cfg.indexes[registry];
  if (byName) return !byName.secure;
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const ips = net.isIP(host) ? [host] : await lookup(host).catch(() => [] as string[]);
  return ips.some((ip) => cfg.insecureCidrs.some((c) => inCidr(ip, c)));
}

async function resolveAll(host: string): Promise<string[]> {
  return (await dns.lookup(host, { all: true })).map((a) => a.address);
}

export interface Credentials {
  username?: string;
  password?: string;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

export interface ManifestInfo {
  digest: string;
  /** Config plus layers (single-platform), or the platform manifests' sizes (index). */
  size: number;
  mediaType: string;
}

export interface RegistryAccess {
  /** The engine treats this registry as insecure: HTTP (and unverified HTTPS) allowed. */
  insecure: boolean;
  env?: NodeJS.ProcessEnv;
}

async function authorize(challenge: string, repository: string, creds: Credentials, access: RegistryAccess, registryUrl: URL): Promise<string | undefined> {
  const basic = creds.username ? `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` : undefined;
  // Credentials travel in clear over http: only to a registry the engine trusts as insecure.
  const mayCarry = (u: URL) => u.protocol === 'https:' || (access.insecure && u.host === registryUrl.host);
  if (/^basic/i.test(challenge)) return mayCarry(registryUrl) ? basic : undefined;
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  if (!params.realm) return mayCarry(registryUrl) ? basic : undefined;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  url.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`);
  const r = await httpGet(url, { headers: basic && mayCarry(url) ? { authorization: basic } : {}, env: access.env, insecureTls: access.insecure && url.host === registryUrl.host });
  if (r.status < 200 || r.status >= 300) throw new Error(`the registry's token service answered ${r.status}`);
  const j = JSON.parse(r.body.toString('utf8')) as { token?: string; access_token?: string };
  const token = j.token ?? j.access_token;
  return token ? `Bearer ${token}` : undefined;
}

async function getManifest(base: URL, repository: string, reference: string, creds: Credentials, access: RegistryAccess): Promise<HttpResponse> {
  const url = new URL(`/v2/${repository}/manifests/${reference}`, base);
  const o = { env: access.env, insecureTls: access.insecure };
  let res = await httpGet(url, { ...o, headers: { accept: ACCEPT } });
  if (res.status === 401) {
    const auth = await authorize(res.headers['www-authenticate'] ?? '', repository, creds, access, base);
    if (auth) res = await httpGet(url, { ...o, headers: { accept: ACCEPT, authorization: auth } });
  }
  return res;
}

export async function readManifest(image: string, reference: string, creds: Credentials = {}, access: RegistryAccess = { insecure: false }): Promise<ManifestInfo> {
  const { registry, repository } = parseImageName(image);
  const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
  let res: HttpResponse;
  try {
    res = await getManifest(new URL(`https://${host}`), repository, reference, creds, access);
  } catch (e) {
    if (!access.insecure) throw new Error(`reading ${repository}:${reference} from ${registry} over HTTPS failed: ${(e as Error).message}`);
    // An insecure registry may speak plain HTTP, as the engine allows.
    res = await getManifest(new URL(`http://${host}`), repository, reference, creds, access);
  }
  if (res.status < 200 || res.status >= 300) throw new Error(`reading ${repository}:${reference} from ${registry} failed: HTTP ${res.status}`);
  const body = res.body;
  const digest = res.headers['docker-content-digest'] ?? `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const m = JSON.parse(body.toString('utf8')) as { mediaType?: string; config?: { size: number }; layers?: { size: number }[]; manifests?: { size: number }[] };
  const size = m.layers ? (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0) : (m.manifests ?? []).reduce((n, l) => n + l.size, 0);
  return { digest, size, mediaType: m.mediaType ?? res.headers['content-type'] ?? '' };
}

/** The digest `docker push` reports for the tag it pushed (`<tag>: digest: sha256:... size: N`). */
export function pushedDigest(output: string): string | undefined {
  return /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1];
}
