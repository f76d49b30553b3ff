import { describe, expect, it } from 'vitest';
import { parseEnvLines } from '../../src/schemas/run.js';
import { envFileText, runScriptCommand } from '../../src/commands/run.js';
import { render } from '../../src/shell/index.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

describe('run inputs', () => {
  it('NAME=value and NAME<<DELIM lines, literally', () => {
    expect(parseEnvLines(`A=1\n# comment\nB= x 'y' $(z) \nC<<EOF\nl1\n  l2\nEOF\nD=`)).toEqual([
      ['A', '1'],
      ['B', " x 'y' $(z) "],
      ['C', 'l1\n  l2'],
      ['D', ''],
    ]);
    expect(() => parseEnvLines('not a line')).toThrow('line 1 is not NAME=value');
    expect(() => parseEnvLines('1A=x')).toThrow("'1A' is not a variable name");
    expect(() => parseEnvLines('C<<EOF\nx')).toThrow("has no closing 'EOF' line");
    expect(() => parseEnvLines('OPS_RUN_DIR=/')).toThrow("the run action's own");
  });

  it('the wrapper sources the env file without letting it redirect its own variables', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'ops-run-'));
    const victim = mkdtempSync(path.join(os.tmpdir(), 'victim-'));
    writeFileSync(
      path.join(d, 'env'),
      envFileText([
        ['d', victim],
        ['wd', victim],
        ['X', `it's "$(x)"`],
      ]),
    );
    writeFileSync(path.join(d, 'script'), 'printf "%s|%s" "$X" "$d"\n', { mode: 0o700 });
    const c = runScriptCommand(d, '', false);
    const out = execFileSync(c[0] as string, c.slice(1) as string[], { encoding: 'utf8' });
    expect(out).toBe(`it's "$(x)"|${victim}`);
    expect(existsSync(victim)).toBe(true);
    expect(existsSync(d)).toBe(false);
    expect(render(c)).toContain('readonly OPS_RUN_DIR OPS_RUN_WD OPS_RUN_MODE');
  });
});
