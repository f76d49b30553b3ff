import { parse as parseYaml } from 'yaml';
import { ParseError } from '../text.js';

import type { Target } from '../host/target.js';

export interface TargetDefaults {
  user: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

export function validHostname(h: string): boolean {
  return HOSTNAME.test(h) || (h.includes(':') && IPV6.test(h));
}

export function validUser(u: string): boolean {
  return USER.test(u);
}

function parsePort(p: string, what: string): number {
  if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) {
    throw new ParseError(`'${what}': port '${p}' is not a number in 1..65535`);
  }
  return Number(p);
}

/** Parse `[user@]host[:port]`, with IPv6 as `[::1]` or `[::1]:2222`. */
export function parseHost(spec: string, d: TargetDefaults): Target {
  const s = spec.trim();
  let user = d.user;
  let rest = s;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    rest = s.slice(at + 1);
    if (!validUser(user)) throw new ParseError(`'${s}': user '${user}' is not a valid user name`);
  }
  let host: string;
  let port = d.port;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== undefined) port = parsePort(v6[2], s);
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) {
      throw new ParseError(`'${s}': write IPv6 addresses in brackets, e.g. [2001:db8::1]:22`);
    }
    host = parts[0]!;
    if (parts.length === 2) port = parsePort(parts[1]!, s);
  }
  if (!validHostname(host)) throw new ParseError(`'${s}': '${host}' is not a valid host name or address`);
  if (!user) throw new ParseError(`'${s}': no user; give it as user@host or set the 'user' input`);
  return { name: s, host, port, user };
}

export function parseHostList(raw: string, d: TargetDefaults): Target[] {
  const items = raw
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter((x) => x && !x.startsWith('#'));
  return dedupe(items.map((x) => parseHost(x, d)));
}

function dedupe(ts: Target[]): Target[] {
  const seen = new Set<string>();
  return ts.filter((t) => {
    const k = `${t.user}@${t.host.toLowerCase()}:${t.port}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A host as an inventory describes it, before defaults. */
interface InvHost {
  name: string;
  vars: Record<string, unknown>;
}

interface Inventory {
  hosts: Map<string, Record<string, unknown>>;
  groups: Map<string, { hosts: Set<string>; children: Set<string>; vars: Record<string, unknown> }>;
}

function emptyInventory(): Inventory {
  return { hosts: new Map(), groups: new Map() };
}

function groupOf(inv: Inventory, name: string) {
  let g = inv.groups.get(name);
  if (!g) {
    g = { hosts: new Set(), children: new Set(), vars: {} };
    inv.groups.set(name, g);
  }
  return g;
}

function addHost(inv: Inventory, group: string, name: string, vars: Record<string, unknown>) {
  inv.hosts.set(name, { ...(inv.hosts.get(name) ?? {}), ...vars });
  groupOf(inv, group).hosts.add(name);
}

/** `web[01:03].example.com` -> web01, web02, web03 (Ansible numeric ranges). */
export function expandRange(name: string): string[] {
  const m = /^(.*)\[(\d+):(\d+)\](.*)$/.exec(name);
  if (!m) return [name];
  const [, pre, a, b, post] = m as unknown as [string, string, string, string, string];
  const width = a.startsWith('0') ? a.length : 0;
  const out: string[] = [];
  for (let i = Number(a); i <= Number(b); i++) out.push(...expandRange(`${pre}${String(i).padStart(width, '0')}${post}`));
  return out;
}

function parseIniValue(v: string): string {
  const q = /^(['"])(.*)\1$/.exec(v);
  return q ? q[2]! : v;
}

/** Ansible INI inventory: groups, `host key=value ...`, `[g:children]`, `[g:vars]`, ranges. */
export function parseIniInventory(text: string): Inventory {
  const inv = emptyInventory();
  let section = 'ungrouped';
  let kind: 'hosts' | 'children' | 'vars' = 'hosts';
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (!l || l.startsWith('#') || l.startsWith(';')) return;
    const sec = /^\[([^\]:]+)(?::(children|vars))?\]$/.exec(l);
    if (sec) {
      section = sec[1]!;
      kind = (sec[2] as 'children' | 'vars') ?? 'hosts';
      groupOf(inv, section);
      return;
    }
    if (kind === 'children') {
      groupOf(inv, section).children.add(l);
      groupOf(inv, l);
      return;
    }
    if (kind === 'vars') {
      const kv = /^([^=\s]+)\s*=\s*(.*)$/.exec(l);
      if (!kv) throw new ParseError(`line ${i + 1}: expected key=value in [${section}:vars]`);
      groupOf(inv, section).vars[kv[1]!] = parseIniValue(kv[2]!.trim());
      return;
    }
    const [name, ...rest] = l.split(/\s+/);
    const vars: Record<string, unknown> = {};
    for (const r of rest) {
      const kv = /^([^=]+)=(.*)$/.exec(r);
      if (!kv) throw new ParseError(`line ${i + 1}: expected key=value after the host name, got '${r}'`);
      vars[kv[1]!] = parseIniValue(kv[2]!);
    }
    for (const n of expandRange(name!)) addHost(inv, section, n, vars);
  });
  return inv;
}

/**
 * YAML inventory, Ansible's shape (`all: {hosts: {web1: {ansible_host: ...}}, children: {...}}`)
 * or a plain list (`- deploy@web1:22`, `- {host: web2, user: deploy}`), or a mapping of
 * group name to such a list.
 */
export function parseYamlInventory(text: string): Inventory {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ParseError(`not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const inv = emptyInventory();
  const addListed = (group: string, list: unknown[]) => {
    for (const item of list) {
      if (typeof item === 'string') {
        // `[user@]host[:port]`, as in the hosts input.
        const t = parseHost(item, { user: '-', port: 0 });
        addHost(inv, group, item, {
          ansible_host: t.host,
          ...(t.port ? { ansible_port: t.port } : {}),
          ...(t.user !== '-' ? { ansible_user: t.user } : {}),
        });
      } else if (item && typeof item === 'object' && 'host' in item) {
        const o = item as Record<string, unknown>;
        const name = String(o.name ?? o.host);
        addHost(inv, group, name, {
          ansible_host: o.host,
          ...(o.port !== undefined ? { ansible_port: o.port } : {}),
          ...(o.user !== undefined ? { ansible_user: o.user } : {}),
        });
      } else throw new ParseError(`group '${group}': each host is a string or a mapping with 'host'`);
    }
  };
  const walk = (group: string, node: unknown) => {
    const g = groupOf(inv, group);
    if (node == null) return;
    if (Array.isArray(node)) return addListed(group, node);
    if (typeof node !== 'object') throw new ParseError(`group '${group}' must be a mapping or a list`);
    const o = node as Record<string, unknown>;
    if (Array.isArray(o.hosts)) addListed(group, o.hosts);
    else if (o.hosts && typeof o.hosts === 'object') {
      for (const [h, vars] of Object.entries(o.hosts as Record<string, unknown>)) {
        for (const n of expandRange(h)) addHost(inv, group, n, (vars as Record<string, unknown>) ?? {});
      }
    }
    if (o.vars && typeof o.vars === 'object') Object.assign(g.vars, o.vars);
    if (o.children && typeof o.children === 'object') {
      for (const [c, cn] of Object.entries(o.children as Record<string, unknown>)) {
        g.children.add(c);
        walk(c, cn);
      }
    }
  };
  if (Array.isArray(doc)) addListed('all', doc);
  else if (doc && typeof doc === 'object') {
    const o = doc as Record<string, unknown>;
    if ('hosts' in o || 'children' in o) walk('all', o);
    else
      for (const [g, node] of Object.entries(o)) {
        walk(g, node);
        if (g !== 'all') groupOf(inv, 'all').children.add(g);
      }
  } else throw new ParseError('the inventory is empty');
  return inv;
}

/** Hosts of a group (recursively through children), in file order, with group vars applied. */
function resolveGroup(inv: Inventory, group: string): InvHost[] {
  const out = new Map<string, Record<string, unknown>>();
  const visit = (name: string, inherited: Record<string, unknown>, path: string[]) => {
    if (path.includes(name)) throw new ParseError(`group '${name}' contains itself (${[...path, name].join(' -> ')})`);
    const g = inv.groups.get(name);
    if (!g) return;
    const vars = { ...inherited, ...g.vars };
    for (const h of g.hosts) out.set(h, { ...vars, ...(out.get(h) ?? {}), ...inv.hosts.get(h) });
    for (const c of g.children) visit(c, vars, [...path, name]);
  };
  if (group === 'all') {
    // Every host is in 'all', grouped or not.
    visit('all', {}, []);
    for (const [n] of inv.groups) if (n !== 'all') visit(n, inv.groups.get('all')?.vars ?? {}, ['all']);
  } else {
    if (!inv.groups.has(group)) {
      const known = [...inv.groups.keys()].filter((g) => g !== 'ungrouped').join(', ');
      throw new ParseError(`group '${group}' is not in the inventory (groups: ${known || 'none'})`);
    }
    visit(group, inv.groups.get('all')?.vars ?? {}, []);
  }
  return [...out.entries()].map(([name, vars]) => ({ name, vars }));
}

export function looksLikeYaml(text: string, path = ''): boolean {
  if (/\.ya?ml$/i.test(path)) return true;
  if (/\.(ini|cfg|hosts)$/i.test(path)) return false;
  return !/^\s*\[[^\]]+\]\s*$/m.test(text);
}

/** Targets from an inventory text (YAML or INI) and a group. */
export function inventoryTargets(text: string, group: string, d: TargetDefaults, path = ''): Target[] {
  const inv = looksLikeYaml(text, path) ? parseYamlInventory(text) : parseIniInventory(text);
  const hosts = resolveGroup(inv, group || 'all');
  if (hosts.length === 0) throw new ParseError(`group '${group || 'all'}' has no hosts`);
  return dedupe(
    hosts.map(({ name, vars }) => {
      const host = String(vars.ansible_host ?? vars.ansible_ssh_host ?? name);
      const port = vars.ansible_port ?? vars.ansible_ssh_port;
      const user = String(vars.ansible_user ?? vars.ansible_ssh_user ?? d.user);
      if (!validHostname(host)) throw new ParseError(`host '${name}': '${host}' is not a valid host name or address`);
      if (user && !validUser(user)) throw new ParseError(`host '${name}': user '${user}' is not a valid user name`);
      if (!user) throw new ParseError(`host '${name}': no user; set ansible_user or the 'user' input`);
      return { name, host, user, port: port === undefined ? d.port : parsePort(String(port), name) };
    }),
  );
}
