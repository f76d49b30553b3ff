/**
 * Just enough of the registry API to read a pushed manifest: its digest (as the registry
 * computes it, not the local image id) and its size. Basic and Bearer (token) auth.
 */
import { createHash } from 'node:crypto';

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

function baseUrl(registry: string): string {
  if (registry === 'docker.io') return 'https://registry-1.docker.io';
  const host = registry.replace(/:\d+$/, '');
  const insecure = host === 'localhost' || /^127\./.test(host) || host === '[::1]' || /^10\.213\./.test(host);
  return `${insecure ? 'http' : 'https'}://${registry}`;
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

async function authorize(challenge: string, repository: string, creds: Credentials): Promise<string | undefined> {
  const basic = creds.username ? `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` : undefined;
  if (/^basic/i.test(challenge)) return basic;
  const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
  if (!params.realm) return basic;
  const url = new URL(params.realm);
  if (params.service) url.searchParams.set('service', params.service);
  url.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`);
  const r = await fetch(url, { headers: basic ? { authorization: basic } : {} });
  if (!r.ok) throw new Error(`the registry's token service answered ${r.status}`);
  const j = (await r.json()) as { token?: string; access_token?: string };
  const token = j.token ?? j.access_token;
  return token ? `Bearer ${token}` : undefined;
}

export interface ManifestInfo {
  digest: string;
  /** Config plus layers (single-platform), or the platform manifests' sizes (index). */
  size: number;
  mediaType: string;
}

export async function readManifest(image: string, reference: string, creds: Credentials = {}): Promise<ManifestInfo> {
  const { registry, repository } = parseImageName(image);
  const url = `${baseUrl(registry)}/v2/${repository}/manifests/${reference}`;
  let res = await fetch(url, { headers: { accept: ACCEPT } });
  if (res.status === 401) {
    const auth = await authorize(res.headers.get('www-authenticate') ?? '', repository, creds);
    if (auth) res = await fetch(url, { headers: { accept: ACCEPT, authorization: auth } });
  }
  if (!res.ok) throw new Error(`reading ${repository}:${reference} from ${registry} failed: HTTP ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const digest = res.headers.get('docker-content-digest') ?? `sha256:${createHash('sha256').update(body).digest('hex')}`;
  const m = JSON.parse(body.toString('utf8')) as { mediaType?: string; config?: { size: number }; layers?: { size: number }[]; manifests?: { size: number }[] };
  const size = m.layers ? (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0) : (m.manifests ?? []).reduce((n, l) => n + l.size, 0);
  return { digest, size, mediaType: m.mediaType ?? res.headers.get('content-type') ?? '' };
}
