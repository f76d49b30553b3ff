/**
 * The runner's protocol, which is all an action needs from @actions/core: workflow
 * commands on stdout (`::warning::`, `::add-mask::`, groups) and the environment files
 * (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY). Written here so the bundles do not
 * carry @actions/core's HTTP client (undici, the largest part of every bundle) for the OIDC
 * token no action here asks for.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';

/** A command's data: `%`, CR and LF escaped so a message cannot end the command or start another. */
export const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

export function command(name: string, message: string): void {
  process.stdout.write(`::${name}::${escapeData(message)}${EOL}`);
}

export const info = (m: string) => process.stdout.write(`${m}${EOL}`);
export const debug = (m: string) => command('debug', m);
export const warning = (m: string) => command('warning', m);
export const error = (m: string) => command('error', m);
export const setSecret = (v: string) => command('add-mask', v);

export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  command('group', name);
  try {
    return await fn();
  } finally {
    command('endgroup', '');
  }
}

/** `name<<delimiter` / value / `delimiter` into the runner's file (a delimiter the value cannot hold). */
export function keyValue(name: string, value: string): string {
  let delimiter = `ghadelimiter_${randomUUID()}`;
  while (value.includes(delimiter) || name.includes(delimiter)) delimiter = `ghadelimiter_${randomUUID()}`;
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

function fileCommand(envName: 'GITHUB_OUTPUT' | 'GITHUB_STATE', legacy: string, name: string, value: string): void {
  const file = process.env[envName];
  if (file) appendFileSync(file, keyValue(name, value), 'utf8');
  // Runners before the environment files read the old command.
  else process.stdout.write(`${EOL}::${legacy} name=${name.replace(/%/g, '%25').replace(/:/g, '%3A').replace(/,/g, '%2C')}::${escapeData(value)}${EOL}`);
}

export const setOutput = (name: string, value: string) => fileCommand('GITHUB_OUTPUT', 'set-output', name, value);
export const saveState = (name: string, value: string) => fileCommand('GITHUB_STATE', 'save-state', name, value);
export const getState = (name: string) => process.env[`STATE_${name}`] ?? '';

/** Append markdown to the job summary (nothing outside a runner). */
export function appendSummary(markdown: string): void {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (file) appendFileSync(file, `${markdown}${EOL}`, 'utf8');
}

/** Fail the step: its exit code, and the message as an error annotation. */
export function setFailed(message: string): void {
  process.exitCode = 1;
  error(message);
}
