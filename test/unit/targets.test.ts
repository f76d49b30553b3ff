import { describe, expect, it } from 'vitest';
import { expandRange, inventoryTargets, parseHost, parseHostList } from '../../src/fleet/targets.js';

const d = { user: 'deploy', port: 22 };

describe('parseHost', () => {
  it.each([
    ['web1', { host: 'web1', port: 22, user: 'deploy' }],
    ['root@web1', { host: 'web1', port: 22, user: 'root' }],
    ['web1.example.com:2222', { host: 'web1.example.com', port: 2222, user: 'deploy' }],
    ['ci@10.0.0.5:2200', { host: '10.0.0.5', port: 2200, user: 'ci' }],
    ['[2001:db8::1]', { host: '2001:db8::1', port: 22, user: 'deploy' }],
    ['u@[::1]:2022', { host: '::1', port: 2022, user: 'u' }],
  ])('%s', (spec, want) => {
    expect(parseHost(spec, d)).toMatchObject({ ...want, name: spec });
  });

  it.each([
    ['web1:0', /port '0'/],
    ['web1:70000', /port '70000'/],
    ['web1:ssh', /port 'ssh'/],
    ['2001:db8::1', /brackets/],
    ['web;rm -rf /', /not a valid host/],
    ['$(id)@web', /not a valid user/],
    ['web 1', /not a valid host/],
    ['-oProxyCommand=x', /not a valid host/],
  ])('rejects %s', (spec, msg) => {
    expect(() => parseHost(spec, d)).toThrow(msg);
  });

  it('needs a user from somewhere', () => {
    expect(() => parseHost('web1', { user: '', port: 22 })).toThrow(/no user/);
  });

  it('parses lists split by lines and commas, skipping comments and duplicates', () => {
    const ts = parseHostList('web1, web2\n# web3\n\nweb1\nadmin@web1', d);
    expect(ts.map((t) => `${t.user}@${t.host}`)).toEqual(['deploy@web1', 'deploy@web2', 'admin@web1']);
  });
});

describe('inventories', () => {
  const ini = `
# production
[web]
web[01:03] ansible_user=www
db1 ansible_host=10.0.0.9 ansible_port=2222

[db]
db1

[workers]
w1 ansible_host="10.0.0.20"

[app:children]
web
workers

[app:vars]
ansible_port=2200
`;

  it('reads Ansible INI groups, ranges, host vars, children and group vars', () => {
    const web = inventoryTargets(ini, 'web', d);
    expect(web.map((t) => `${t.name}=${t.user}@${t.host}:${t.port}`)).toEqual(['web01=www@web01:22', 'web02=www@web02:22', 'web03=www@web03:22', 'db1=deploy@10.0.0.9:2222']);
    const app = inventoryTargets(ini, 'app', d);
    expect(app.find((t) => t.name === 'web01')!.port).toBe(2200);
    expect(app.find((t) => t.name === 'db1')!.port).toBe(2222);
    expect(app.find((t) => t.name === 'w1')).toMatchObject({ host: '10.0.0.20', port: 2200 });
    expect(inventoryTargets(ini, 'all', d)).toHaveLength(5);
  });

  it('reads the Ansible YAML shape', () => {
    const yaml = `
all:
  vars:
    ansible_user: deploy
  children:
    web:
      hosts:
        web1: { ansible_host: 192.0.2.1 }
        web2:
          ansible_host: 192.0.2.2
          ansible_port: 2222
    db:
      hosts:
        db1:
          ansible_user: postgres
`;
    expect(inventoryTargets(yaml, 'web', { user: '', port: 22 }).map((t) => `${t.user}@${t.host}:${t.port}`)).toEqual(['deploy@192.0.2.1:22', 'deploy@192.0.2.2:2222']);
    expect(inventoryTargets(yaml, 'all', { user: '', port: 22 }).map((t) => t.name)).toEqual(['web1', 'web2', 'db1']);
    expect(inventoryTargets(yaml, 'db', { user: '', port: 22 })[0]!.user).toBe('postgres');
  });

  it('reads plain YAML lists and group maps', () => {
    expect(inventoryTargets('- a@h1:2200\n- {host: h2, user: b}\n', 'all', d).map((t) => `${t.user}@${t.host}:${t.port}`)).toEqual(['a@h1:2200', 'b@h2:22']);
    const grouped = 'web: [h1, h2]\ndb:\n  - host: h3\n    port: 2022\n';
    expect(inventoryTargets(grouped, 'db', d)[0]).toMatchObject({ host: 'h3', port: 2022 });
    expect(inventoryTargets(grouped, 'all', d)).toHaveLength(3);
  });

  it('says which group is missing and which exist', () => {
    expect(() => inventoryTargets(ini, 'nope', d)).toThrow(/group 'nope' is not in the inventory \(groups: .*web.*\)/);
  });

  it('rejects bad values and bad files clearly', () => {
    expect(() => inventoryTargets('[web]\nweb1 ansible_host=$(id)\n', 'web', d)).toThrow(/not a valid host/);
    expect(() => inventoryTargets('[web]\nweb1 nonsense\n', 'web', d)).toThrow(/line 2: expected key=value/);
    expect(() => inventoryTargets('a: [\n', 'all', d, 'x.yml')).toThrow(/not valid YAML/);
    expect(() => inventoryTargets('[a:children]\nb\n[b:children]\na\n', 'a', d)).toThrow(/contains itself/);
  });

  it('expands numeric ranges keeping zero padding', () => {
    expect(expandRange('n[8:10]')).toEqual(['n8', 'n9', 'n10']);
    expect(expandRange('n[08:10].x')).toEqual(['n08', 'n09', 'n10'].map((s) => s + '.x'));
  });
});
