import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceRollbackCommand, stackDeployCommand, stackStatusCommand } from '../../src/commands/swarm.js';
import { judgeStack, parseStackStatus, pickRepoDigest, repositoryOf, snapshot, stackEnv, type SwarmService, type SwarmStatus } from '../../src/deploy/swarm.js';
import type { ReleaseManifest } from '../../src/host/state.js';
import { swarmTable } from '../../src/report/deploy.js';
import { render } from '../../src/shell/index.js';

const m = { id: 'r1', app: 'shop', environment: 'production', version: '2.0.0' } as ReleaseManifest;

const svc = (o: Partial<SwarmService>): SwarmService => ({ name: 'shop_app', id: 'x', mode: 'replicated', desired: 3, running: 3, version: 10, image: 'reg/app@sha256:ab', tasks: [], ...o });
const status = (...services: SwarmService[]): SwarmStatus => ({ now: 1000, services });
const T0 = '2026-12-02T10:00:00.000000000Z';
const T1 = '2026-12-02T10:00:05.000000000Z';
const T2 = '2026-12-02T10:00:09.000000000Z';
const task = (image: string, state = 'Running 3 seconds ago') => ({ name: 'shop_app.1', node: 'n1', desired: 'Running', state, image, error: '' });

describe('stack status', () => {
  it('parses services, their update and their tasks from the status script', () => {
    const out = [
      'now\t1700000100',
      `svc\tshop_app\tabc\tglobal\t2/3\t41\tupdating\t${T1}\treg/app:2@sha256:ff\tupdate in progress`,
      'task\tshop_app\tshop_app.n1\tnode-1\tRunning\tRunning 3 seconds ago\treg/app:2@sha256:ff\t',
      'task\tshop_app\tshop_app.n2\tnode-2\tRunning\tStarting 1 second ago\treg/app:1@sha256:ee\t',
      'svc\tshop_worker\tdef\treplicated\t1/1 (max 1 per node)\t7\t\t\treg/worker:1\t',
      'task\tshop_worker\tshop_worker.1\tnode-1\tRunning\tRunning 2 hours ago\treg/worker:1\t',
      'svc\tshop_migrate\tghi\tjob\t0/1 (1/1 completed)\t3\t\t\treg/app:2\t',
    ].join('\n');
    const s = parseStackStatus(out);
    expect(s.now).toBe(1700000100);
    expect(s.services).toHaveLength(3);
    expect(s.services[0]).toMatchObject({ name: 'shop_app', mode: 'global', desired: 3, running: 2, version: 41, update: { state: 'updating', startedAt: T1, message: 'update in progress' } });
    expect(s.services[0]!.tasks.map((t) => [t.node, t.image])).toEqual([
      ['node-1', 'reg/app:2@sha256:ff'],
      ['node-2', 'reg/app:1@sha256:ee'],
    ]);
    expect(s.services[1]).toMatchObject({ desired: 1, running: 1, version: 7 });
    expect(s.services[1]!.update).toBeUndefined();
    expect(s.services[2]).toMatchObject({ mode: 'job', desired: 1, completed: 1 });
  });

  it('judges against a snapshot from before the deploy (spec version and update start), never by clocks', () => {
    const before = snapshot(status(svc({ update: { state: 'completed', startedAt: T0, message: '' } })));
    const img = 'reg/app@sha256:new';
    const done = svc({ version: 12, image: img, update: { state: 'completed', startedAt: T1, message: '' }, tasks: [task(img), task(img), task(img)] });
    expect(judgeStack(status(done), before).kind).toBe('converged');
    // The update status from before the deploy is not this run's: it counts for nothing, and
    // tasks still on the old image mean Swarm has not caught up yet.
    const notYet = svc({
      version: 11,
      image: img,
      update: { state: 'completed', startedAt: T0, message: '' },
      tasks: [task('reg/app@sha256:ab'), task('reg/app@sha256:ab'), task('reg/app@sha256:ab')],
    });
    expect(judgeStack(status(notYet), before).kind).toBe('waiting');
    // An earlier deploy's rollback_completed is not this run's failure.
    const oldRollback = snapshot(status(svc({ update: { state: 'rollback_completed', startedAt: T0, message: '' } })));
    expect(judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: T0, message: '' } })), oldRollback).kind).toBe('converged');
    expect(judgeStack(status(svc({ update: { state: 'updating', startedAt: T1, message: '' } })), before).kind).toBe('waiting');
    expect(judgeStack(status(svc({ running: 2 })), before)).toMatchObject({ kind: 'waiting', why: expect.stringContaining('2/3 running') });
    const back = judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: T1, message: 'update rolled back due to failure' } })), before);
    expect(back).toMatchObject({ kind: 'failed', rolledBack: true, why: expect.stringMatching(/Swarm rolled back the update: shop_app: .*update rolled back due to failure/) });
    const paused = judgeStack(
      status(svc({ update: { state: 'paused', startedAt: T1, message: 'update paused due to failure' }, tasks: [{ ...task('x', 'Rejected 1 second ago'), error: 'No such image' }] })),
      before,
    );
    expect(paused).toMatchObject({ kind: 'failed', rolledBack: false, why: expect.stringContaining('shop_app.1 on n1: Rejected 1 second ago (No such image)') });
    // One service rolled back by Swarm, another updated fine: not everything is back.
    const mixed = judgeStack(
      status(svc({ update: { state: 'rollback_completed', startedAt: T1, message: '' } }), svc({ name: 'shop_worker', update: { state: 'completed', startedAt: T1, message: '' } })),
      before,
    );
    expect(mixed).toMatchObject({ kind: 'failed', rolledBack: false });
    // A job is done when its tasks completed.
    expect(judgeStack(status(svc({ mode: 'job', desired: 1, running: 0, completed: 1 })), before).kind).toBe('converged');
    expect(judgeStack(status(svc({ mode: 'job', desired: 1, running: 1, completed: 0 })), before).kind).toBe('waiting');
    expect(judgeStack(status(), before).kind).toBe('failed');
  });

  it('while rolling back: the services rolled back must have started and completed their rollback', () => {
    const before = snapshot(status(svc({ update: { state: 'completed', startedAt: T0, message: '' } })));
    const failedState = status(svc({ version: 12, update: { state: 'completed', startedAt: T1, message: '' } }));
    const rb = { before: snapshot(failedState), services: ['shop_app'] };
    // Still the failed update's status: the rollback has not started yet.
    expect(judgeStack(failedState, before, { rollingBack: rb }).kind).toBe('waiting');
    expect(judgeStack(status(svc({ update: { state: 'rollback_started', startedAt: T2, message: '' } })), before, { rollingBack: rb }).kind).toBe('waiting');
    expect(judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: T2, message: '' } })), before, { rollingBack: rb }).kind).toBe('converged');
    expect(judgeStack(status(svc({ update: { state: 'rollback_paused', startedAt: T2, message: '' } })), before, { rollingBack: rb }).kind).toBe('failed');
    // A service Swarm is rolling back by itself is waited for too.
    const own = { before: snapshot(failedState), services: [] };
    expect(judgeStack(status(svc({ update: { state: 'rollback_started', startedAt: T2, message: '' } })), before, { rollingBack: own }).kind).toBe('waiting');
    expect(judgeStack(status(svc({ update: { state: 'rollback_completed', startedAt: T1, message: '' } })), before, { rollingBack: own }).kind).toBe('converged');
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

  it('refuses names that would change the docker CLI or its shell rather than the stack', () => {
    for (const name of ['PATH', 'HOME', 'DOCKER_HOST', 'DOCKER_CONFIG', 'LD_PRELOAD', 'UID', 'IFS', 'ops_line']) {
      expect(() => stackEnv(`${name}=x\n`, m, undefined), name).toThrow(new RegExp(`${name} would change the docker CLI`));
    }
    expect(stackEnv('DOCKERISH=1\nMY_HOME=/app\n', m, undefined)).toContain('MY_HOME=/app');
  });

  it('picks the repository digest of exactly the image deployed (Docker Hub names spelled out)', () => {
    const lines = ['other/app@sha256:11', 'reg:5000/ops/app@sha256:22', 'reg:5000/ops/app-api@sha256:33', 'nginx@sha256:44'];
    expect(pickRepoDigest('reg:5000/ops/app:2.0.0', lines)).toBe('reg:5000/ops/app@sha256:22');
    expect(pickRepoDigest('reg:5000/ops/app', lines)).toBe('reg:5000/ops/app@sha256:22');
    expect(pickRepoDigest('reg:5000/ops/app-api:1', lines)).toBe('reg:5000/ops/app-api@sha256:33');
    expect(pickRepoDigest('docker.io/library/nginx:1.27', lines)).toBe('nginx@sha256:44');
    expect(pickRepoDigest('reg:5000/ops/ap:1', lines)).toBeUndefined();
    expect(repositoryOf('ghcr.io/acme/shop:1.2@sha256:aa')).toBe('ghcr.io/acme/shop');
    expect(repositoryOf('acme/shop:1')).toBe('docker.io/acme/shop');
    expect(repositoryOf('localhost/shop:1')).toBe('localhost/shop');
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
    // Names the script could have used for itself must not redirect the deploy.
    writeFileSync(path.join(dir, 'stack.env'), stackEnv(`A=${evil}\nB=plain\nstack=other\nd=/tmp\nkv=x\nfiles=x`, m, undefined));
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
          tasks: [{ name: 'shop_app.n1', node: 'node1', desired: 'Running', state: 'Running 5 seconds ago', image: 'reg/app@sha256:ab', error: '' }],
        }),
      ],
    });
    expect(text).toContain('### Stack on `manager-1`');
    expect(text).toMatch(/`shop_app` \| global \| 3\/3 \| completed: update completed/);
    expect(text).toMatch(/`shop_app.n1` \| node1 \| Running 5 seconds ago/);
  });
});

describe("the watchdog's timeout for a switch that waits", () => {
  it('a derived timeout is extended by the target release convergence (or a color wait and drain); one given is kept', async () => {
    const { policyFor } = await import('../../src/deploy/switch.js');
    const swarm = { ...m, strategy: 'swarm', swarm: { converge_timeout_s: 600 } } as ReleaseManifest;
    expect(policyFor({ timeoutMs: 70_000, lockWaitMs: 1 }, swarm).timeoutMs).toBe(670_000);
    expect(policyFor({ timeoutMs: 70_000, lockWaitMs: 1, explicit: true }, swarm).timeoutMs).toBe(70_000);
    expect(policyFor({ timeoutMs: 0, lockWaitMs: 1 }, swarm).timeoutMs).toBe(0);
    expect(policyFor({ timeoutMs: 70_000, lockWaitMs: 1 }, m).timeoutMs).toBe(70_000);
  });
});
