import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as runner from '../../src/action/runner.js';
import { parseCommandFile } from '../harness.js';

describe("the runner's protocol", () => {
  let dir: string;
  let out: string[];
  const saved = { ...process.env };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ops-runner-'));
    for (const f of ['output', 'state', 'summary']) writeFileSync(path.join(dir, f), '');
    process.env.GITHUB_OUTPUT = path.join(dir, 'output');
    process.env.GITHUB_STATE = path.join(dir, 'state');
    process.env.GITHUB_STEP_SUMMARY = path.join(dir, 'summary');
    out = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.env = { ...saved };
    process.exitCode = undefined;
  });

  it('writes outputs and state as name<<delimiter blocks, multi-line values whole', () => {
    runner.setOutput('release-id', '20261202T101010Z-1.0.0');
    runner.setOutput('host-checks', '{"a":1}\nline two\n');
    runner.saveState('isPost', 'true');
    const outputs = parseCommandFile(readFileSync(path.join(dir, 'output'), 'utf8'));
    expect(outputs).toEqual({ 'release-id': '20261202T101010Z-1.0.0', 'host-checks': '{"a":1}\nline two\n' });
    expect(parseCommandFile(readFileSync(path.join(dir, 'state'), 'utf8'))).toEqual({ isPost: 'true' });
  });

  it('never lets a value that holds the delimiter end the block', () => {
    const block = runner.keyValue('x', 'ghadelimiter_fixed');
    const delimiter = /^x<<(\S+)/.exec(block)![1]!;
    expect(delimiter).not.toBe('ghadelimiter_fixed');
    expect(block.split('\n').filter((l) => l === delimiter)).toHaveLength(1);
  });

  it('escapes command data: a message cannot end its command or start another', () => {
    runner.warning('50% done\r\n::error::injected');
    runner.setSecret('multi\nline');
    expect(out).toEqual(['::warning::50%25 done%0D%0A::error::injected\n', '::add-mask::multi%0Aline\n']);
  });

  it('groups, summary, failure', async () => {
    await runner.group('diagnostics', async () => runner.info('inside'));
    runner.appendSummary('## Deploy');
    runner.setFailed('it broke');
    expect(out).toEqual(['::group::diagnostics\n', 'inside\n', '::endgroup::\n', '::error::it broke\n']);
    expect(readFileSync(path.join(dir, 'summary'), 'utf8')).toBe('## Deploy\n');
    expect(process.exitCode).toBe(1);
  });

  it('reads state from STATE_ variables, and falls back to the old commands without the files', () => {
    process.env.STATE_isPost = 'true';
    expect(runner.getState('isPost')).toBe('true');
    expect(runner.getState('missing')).toBe('');
    delete process.env.GITHUB_OUTPUT;
    runner.setOutput('a:b', 'v\n2');
    expect(out.join('')).toContain('::set-output name=a%3Ab::v%0A2');
  });
});
