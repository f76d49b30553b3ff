import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { and, envRef, group, home, mergeErr, or, pipe, quote, remotePath, render, script, seq, silent, subshell, toFile, userScript, withEnv } from '../../src/shell/index.js';

/** Strings that must each stay one literal argument. */
const HOSTILE = [
  '',
  ' ',
  '  leading',
  'trailing  ',
  'a b',
  'tab\there',
  'new\nline',
  '\n',
  'cr\rlf\r\n',
  "'",
  "''",
  "it's",
  "'\\''",
  '"',
  '""',
  'say "hi"',
  '\\',
  '\\\\',
  'back\\slash',
  'ends\\',
  '$HOME',
  '${HOME}',
  '$(id)',
  '`id`',
  '$((1+1))',
  '$1',
  '$@',
  '$*',
  '$#',
  '$?',
  '$$',
  '$!',
  '$-',
  '$0',
  ';',
  'a;b',
  '; rm -rf /',
  '&&',
  'a&&b',
  '||',
  '|',
  'a|b',
  '&',
  'a & b',
  '>',
  '>>',
  '<',
  '2>&1',
  '<(id)',
  '>(id)',
  '*',
  '*.*',
  '?',
  '[a-z]',
  '[!a]',
  '{a,b}',
  '~',
  '~root',
  '~/x',
  '#',
  'a #comment',
  '!',
  '!!',
  '! x',
  '-n',
  '-e',
  '--',
  '-',
  '=',
  'a=b',
  'PATH=/x',
  '%s',
  '%n',
  '(',
  ')',
  '()',
  '{',
  '}',
  '{ :; }',
  'über',
  'naïve ☃',
  '日本語',
  '🚀 launch',
  'emoji\u200bzero-width',
  '\u00a0nbsp',
  'rtl\u202eevil',
  'x\u0001ctrl',
  '\u007f',
  'a\u001b[31mred',
  'mix\'"$`\\;|&<>*?[]{}()~#! \n\t',
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
];

function shOut(commandLine: string): string {
  return execFileSync('/bin/sh', ['-c', commandLine], { encoding: 'utf8' });
}

describe('quote', () => {
  it.each(HOSTILE.map((s) => [JSON.stringify(s), s]))('%s round-trips through sh as one literal argument', (_label, s) => {
    const argc = shOut(render(['sh', '-c', 'printf %s "$#"', 'argv0', s]));
    expect(argc).toBe('1');
    expect(shOut(render(['printf', '%s', s]))).toBe(s);
  });

  it('round-trips through bash and through two levels of sh -c', () => {
    for (const s of HOSTILE) {
      const inner = render(['printf', '%s', s]);
      expect(execFileSync('/bin/bash', ['-c', inner], { encoding: 'utf8' })).toBe(s);
      expect(shOut(render(['sh', '-c', inner]))).toBe(s);
    }
  });

  it('leaves plain words bare and quotes the rest', () => {
    expect(quote('deploy')).toBe('deploy');
    expect(quote('/srv/app-1.2/x_y:z@h')).toBe('/srv/app-1.2/x_y:z@h');
    expect(quote('')).toBe("''");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote('~')).toBe("'~'");
  });

  it('refuses NUL bytes', () => {
    expect(() => quote('a\0b')).toThrow(/NUL/);
  });
});

describe('combinators', () => {
  it('joins commands with operator tokens and quotes every word', () => {
    const c = and(['mkdir', '-p', 'a b'], or(['test', '-f', 'x;y'], ['touch', '$(id)']));
    expect(render(c)).toBe("mkdir -p 'a b' && test -f 'x;y' || touch '$(id)'");
    expect(render(seq(['true'], ['false']))).toBe('true ; false');
    expect(render(pipe(['echo', 'a'], ['tr', 'a', 'b']))).toBe('echo a | tr a b');
    expect(render(subshell(['cd', '/']))).toBe('( cd / )');
    expect(render(group(['true']))).toBe('{ true ; }');
    expect(render(toFile(['echo', 'x'], 'f>g', true))).toBe("echo x >> 'f>g'");
    expect(render(silent(['true']))).toBe('true >/dev/null 2>&1');
    expect(render(mergeErr(['true']))).toBe('true 2>&1');
  });

  it('an operator given as a string is only a literal argument', () => {
    expect(shOut(render(['echo', '&&', 'echo', 'pwned']))).toBe('&& echo pwned\n');
  });

  it('expands $HOME only through the home token', () => {
    const out = execFileSync('/bin/sh', ['-c', render(['printf', '%s', home('~/apps/a b')])], { encoding: 'utf8', env: { HOME: '/h' } });
    expect(out).toBe('/h/apps/a b');
    expect(render(['echo', remotePath('~/x')])).toBe(`echo "$HOME"/x`);
    expect(render(['echo', remotePath('/srv/~x')])).toBe("echo '/srv/~x'");
    expect(render(['echo', envRef('OPS_APP')])).toBe('echo "$OPS_APP"');
    expect(() => envRef('A;B')).toThrow();
  });

  it('passes environment variables as data', () => {
    const c = withEnv({ OPS_APP: "a'b $(id)" }, ['sh', '-c', 'printf %s "$OPS_APP"']);
    expect(shOut(render(c))).toBe("a'b $(id)");
    const compound = withEnv({ X: '1 2' }, and(['true'], ['sh', '-c', 'printf %s "$X"']));
    expect(shOut(render(compound))).toBe('1 2');
    expect(() => withEnv({ 'BAD-NAME': 'x' }, ['true'])).toThrow(/invalid environment variable/);
  });
});

describe('scripts', () => {
  it('script() stops at the first failing line', () => {
    const r = spawnSync('/bin/sh', ['-c', render(script([['echo', 'one'], ['false'], ['echo', 'never']]))], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('one\n');
  });

  it('userScript() fails on a failing line, an unset variable and (with bash) a failing pipe stage', () => {
    const run = (text: string) => spawnSync('/bin/sh', ['-c', render(userScript(text))], { encoding: 'utf8' });
    const failing = run('echo start\nfalse\necho after');
    expect(failing.status).toBe(1);
    expect(failing.stdout).toBe('start\n');
    expect(run('echo "$UNSET_VARIABLE_X"').status).not.toBe(0);
    expect(run('false | cat').status).not.toBe(0);
    expect(run('echo ok').stdout).toBe('ok\n');
    expect(run('echo \'quotes\' "and" $((1+2))').stdout).toBe('quotes and 3\n');
  });

  it.each([
    ['busybox sh (has pipefail)', '/bin/busybox', true],
    ['dash (has no pipefail)', '/bin/dash', false],
  ])('userScript() without bash: %s', (_label, shell, pipefail) => {
    // A PATH whose only shell is this one, as in a container or a minimal host.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sh-'));
    symlinkSync(shell, path.join(dir, 'sh'));
    for (const tool of ['false', 'cat', 'echo']) symlinkSync(`/bin/${tool}`, path.join(dir, tool));
    const run = (text: string) => spawnSync(path.join(dir, 'sh'), ['-c', render(userScript(text))], { encoding: 'utf8', env: { PATH: dir } });
    expect(run('echo start\nfalse\necho after').stdout).toBe('start\n');
    expect(run('false\necho after').status).toBe(1);
    expect(run('false | cat\necho after').status === 0).toBe(!pipefail);
  });
});
