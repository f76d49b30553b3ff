import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceRollbackCommand, stackDeployCommand, stackStatusCommand } from '../../src/commands/swarm.js';
import { judgeStack, parseStackStatus, pickRepoDigest, stackEnv, type SwarmService, type SwarmStatus } from '../../src/deploy/swarm.js';
import type { ReleaseManifest } from '../../src/host/state.js';
import { swarmTable } from '../../src/report/deploy.js';
import { render } from '../../src/shell/index.js';

const m = { id: 'r1', app: 'shop', environment: 'production', version: '2.0.0' } as ReleaseManifest;

const svc = (o: Partial<SwarmService>): SwarmService => ({ name: 'shop_app', id: 'x', mode: 'replicated', desired: 3, running: 3, image: 'reg/app@sha256:ab', tasks: [], ...o });
const status = (...services: SwarmService[]): SwarmStatus => ({ now: 1000, services });

describe('stack status', () => {
  it('parses services, their update and their tasks from the status script', () => {
    const out = [
      'now\t1700000100',
      'svc\tshop_app\tabc\tglobal\t3\t2\tupdating\t1700000090\treg/app:2@sha256:ff\tupdate in progress',
      'task\tshop_app\tshop_app.n1\tnode-1\tRunning\tRunning 3 seconds ago\t',
      'task\tshop_app\tshop_app.n2\tnode-2\tRunning\tStarting 1 second ago\t',
      'svc\tshop_worker\tdef\treplicated\t1\t1\t\t\treg/worker:1\t',
      'task\tshop_worker\tshop_worker.1\tnode-1\tRunning\tRunning 2 hours ago\t',
    ].join('\n');
    const s = parseStackStatus(out);
    expect(s.now).toBe(1700000100);
    expect(s.services).toHaveLength(2);
    expect(s.services[0]).toMatchObject({ name: 'shop_app', mode: 'global', desired: 3, running: 2, update: { state: 'updating', startedAt: 1700000090, message: 'update in progress' } });
    expect(s.services[0]!.tasks.map((t) => t.node)).toEqual(['node-1', 'node-2']);
    expect(s.services[1]!.update).toBeUndefined();
    expect(s.services[1]!.tasks).toHaveLength(1);
  });

  it('judges convergence from the update this run started, and every replica running', () => {
    expect(judgeStack(status(svc({ update: { state: 'completed', startedAt: 1005, message: '' } })), 1000).kind).toBe('converged');
    // An update from before this run (another deploy's) is not this run's: replicas decide.
    expect(judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: 900, message: '' } })), 1000).kind).toBe('converged');
    expect(judgeStack(status(svc({ update: { state: 'updating', startedAt: 1001, message: '' } })), 1000).kind).toBe('waiting');
    expect(judgeStack(status(svc({ running: 2 })), 1000)).toMatchObject({ kind: 'waiting', why: expect.stringContaining('2/3 running') });
    const back = judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: 1002, message: 'update rolled back due to failure' } })), 1000);
    expect(back).toMatchObject({ kind: 'failed', rolledBack: true, why: expect.stringMatching(/Swarm rolled back the update: shop_app: .*update rolled back due to failure/) });
    const paused = judgeStack(
      status(
        svc({
          update: { state: 'paused', startedAt: 1002, message: 'update paused due to failure' },
          tasks: [{ name: 'shop_app.1', node: 'n1', desired: 'Running', state: 'Rejected 1 second ago', error: 'No such image' }],
        }),
      ),
      1000,
    );
    expect(paused).toMatchObject({ kind: 'failed', rolledBack: false, why: expect.stringContaining('shop_app.1 on n1: Rejected 1 second ago (No such image)') });
    // One service rolled back by Swarm, another updated fine: not everything is back.
    const mixed = judgeStack(
      status(svc({ update: { state: 'rollback_completed', startedAt: 1002, message: '' } }), svc({ name: 'shop_worker', update: { state: 'completed', startedAt: 1002, message: '' } })),
      1000,
    );
    expect(mixed).toMatchObject({ kind: 'failed', rolledBack: false });
    expect(judgeStack(status(), 1000).kind).toBe('failed');
  });

  it('while rolling back: the services rolled back must have started and completed their rollback', () => {
    const rb = { since: 2000, services: ['shop_app'] };
    // Still the failed update's state: the rollback has not started yet.
    expect(judgeStack({ now: 2001, services: [svc({ update: { state: 'completed', startedAt: 1005, message: '' } })] }, 1000, { rollingBack: rb }).kind).toBe('waiting');
    expect(judgeStack({ now: 2003, services: [svc({ update: { state: 'rollback_started', startedAt: 2001, message: '' } })] }, 1000, { rollingBack: rb }).kind).toBe('waiting');
    expect(judgeStack({ now: 2009, services: [svc({ update: { state: 'rollback_completed', startedAt: 2001, message: '' } })] }, 1000, { rollingBack: rb }).kind).toBe('converged');
    expect(judgeStack({ now: 2009, services: [svc({ update: { state: 'rollback_paused', startedAt: 2001, message: '' } })] }, 1000, { rollingBack: rb }).kind).toBe('failed');
    // A service Swarm had rolled back already is not rolled back again; replicas decide.
    expect(judgeStack({ now: 2009, services: [svc({ update: { state: 'rollback_completed', startedAt: 1003, message: '' } })] }, 1000, { rollingBack: { since: 2000, services: [] } }).kind).toBe(
      'converged',
    );
  });
});

describe('stack.env', () => {
  it('turns dotenv lines into KEY=VALUE lines, with the pinned image and the release identity last', () => {
    const env = stackEnv('# db\nexport DB_URL="postgres://u:p@db/app"\nQUOTED=\'a $b c\'\nPLAIN=x y # note\nIMAGE=ignored\n\nESC="say \\"hi\\""\n', m, 'reg/app@sha256:ab');
    expect(env.split('\n')).toEqual([
      'DB_URL=postgres://u:p@db/app',
      'QUOTED=a $b c',
      'PLAIN=x y',
      'IMAGE=reg/app@sha256:ab',
      'ESC=say "hi"',
      'OPS_APP=shop',
      'OPS_ENVIRONMENT=production',
      'OPS_VERSION=2.0.0',
      'OPS_RELEASE=r1',
      '',
    ]);
  });

  it('refuses what a line-by-line file cannot carry, naming the line', () => {
    expect(() => stackEnv('A=1\nB="multi\nline"\n', m, undefined)).toThrow(/line 2: a quoted value must end on its line/);
    expect(() => stackEnv('A="x\\ny"\n', m, undefined)).toThrow(/line 1: A holds a newline/);
    expect(() => stackEnv('not a variable\n', m, undefined)).toThrow(/line 1 is not KEY=VALUE/);
  });

  it('picks the repository digest of the image deployed', () => {
    const lines = ['other/app@sha256:11', 'reg:5000/ops/app@sha256:22'];
    expect(pickRepoDigest('reg:5000/ops/app:2.0.0', lines)).toBe('reg:5000/ops/app@sha256:22');
    expect(pickRepoDigest('reg:5000/ops/app', lines)).toBe('reg:5000/ops/app@sha256:22');
    expect(pickRepoDigest('none/x:1', lines)).toBeUndefined();
  });
});

describe('swarm commands', () => {
  it('deploys the stack with variables exported from stack.env word for word, never evaluated', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ops-swarm-unit-'));
    const bin = path.join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    // A stand-in docker that prints the variables it was given and its arguments.
    writeFileSync(path.join(bin, 'docker'), '#!/bin/sh\nprintf "A=%s\\n" "$A"\nprintf "B=%s\\n" "$B"\nprintf "arg=%s\\n" "$@"\n');
    chmodSync(path.join(bin, 'docker'), 0o755);
    const evil = `$(touch ${dir}/pwned) \`id\` "q" 'x' \\ ;|&`;
    writeFileSync(path.join(dir, 'stack.env'), stackEnv(`A=${evil}\nB=plain`, m, undefined));
    const c = stackDeployCommand(dir, 'shop-production', ['stack.yml', 'override.yml']);
    const out = execFileSync('sh', ['-c', render(c)], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    expect(out).toContain(`A=${evil}\n`);
    expect(out).toContain('B=plain\n');
    expect(out.split('\n').filter((l) => l.startsWith('arg='))).toEqual([
      'arg=stack',
      'arg=deploy',
      'arg=--with-registry-auth',
      'arg=--prune',
      'arg=--resolve-image',
      'arg=always',
      'arg=-c',
      `arg=${dir}/stack.yml`,
      'arg=-c',
      `arg=${dir}/override.yml`,
      'arg=shop-production',
    ]);
    expect(() => readFileSync(path.join(dir, 'pwned'))).toThrow();
  });

  it('passes the stack and services as data', () => {
    expect(render(stackStatusCommand("x'; rm -rf /"))).toMatch(/ ops 'x'\\''; rm -rf \/'$/);
    expect(render(serviceRollbackCommand(['shop_app', 'shop_worker']))).toMatch(/ ops shop_app shop_worker$/);
  });
});

describe('the summary', () => {
  it('shows each service and its tasks', () => {
    const text = swarmTable({
      host: 'manager-1',
      result: 'succeeded',
      durationMs: 0,
      swarm: [
        svc({
          mode: 'global',
          update: { state: 'completed', message: 'update completed' },
          tasks: [{ name: 'shop_app.n1', node: 'node1', desired: 'Running', state: 'Running 5 seconds ago', error: '' }],
        }),
      ],
    });
    expect(text).toContain('### Stack on `manager-1`');
    expect(text).toMatch(/`shop_app` \| global \| 3\/3 \| completed: update completed/);
    expect(text).toMatch(/`shop_app.n1` \| node1 \| Running 5 seconds ago/);
  });
});
