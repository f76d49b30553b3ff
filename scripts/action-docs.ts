/**
 * docs/<action>.md reference tables, generated from actions/<action>/action.yml: the text
 * between the `<!-- generated:start -->` and `<!-- generated:end -->` markers is rewritten,
 * the rest of the page is written by hand. `npm run docs` writes them; a unit test fails
 * when a page drifts from its action.yml.
 *
 *   tsx scripts/action-docs.ts          write every page
 *   tsx scripts/action-docs.ts --check  exit 1 and name the pages that differ
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- generated:start (npm run docs writes this part from action.yml; edit action.yml instead) -->';
const END = '<!-- generated:end -->';

interface ActionYml {
  name: string;
  description: string;
  inputs?: Record<string, { description?: string; required?: boolean | string; default?: string }>;
  outputs?: Record<string, { description?: string }>;
}

// GitHub drops unknown HTML tags: <app> in a description would vanish from the page.
const cell = (t: string) => t.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').trim();
const codeCell = (t: string) => (t === '' ? '' : `\`${t.replace(/`/g, 'ʼ').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')}\``);

/** The generated part of an action's page. */
export function referenceTables(meta: ActionYml): string {
  const inputs = Object.entries(meta.inputs ?? {});
  const outputs = Object.entries(meta.outputs ?? {});
  const lines = [
    START,
    '',
    `## Inputs (${inputs.length})`,
    '',
    '| input | required | default | description |',
    '| --- | --- | --- | --- |',
    ...inputs.map(([k, v]) => `| ${codeCell(k)} | ${v.required === true || v.required === 'true' ? 'yes' : ''} | ${codeCell(v.default ?? '')} | ${cell(v.description ?? '')} |`),
    '',
    `## Outputs (${outputs.length})`,
    '',
    '| output | description |',
    '| --- | --- |',
    ...outputs.map(([k, v]) => `| ${codeCell(k)} | ${cell(v.description ?? '')} |`),
    '',
    END,
  ];
  return lines.join('\n');
}

export function actions(): string[] {
  return readdirSync(path.join(ROOT, 'actions'))
    .filter((a) => existsSync(path.join(ROOT, 'actions', a, 'action.yml')))
    .sort();
}

/** The page of `action` as it should be: the hand-written parts kept, the tables regenerated. */
export function pageFor(action: string, current: string | undefined): string {
  const meta = parse(readFileSync(path.join(ROOT, 'actions', action, 'action.yml'), 'utf8')) as ActionYml;
  const tables = referenceTables(meta);
  if (current?.includes(START.slice(0, 24)) && current.includes(END)) {
    const a = current.indexOf(START.slice(0, 24));
    const b = current.indexOf(END) + END.length;
    return current.slice(0, a) + tables + current.slice(b);
  }
  const usage = `\`\`\`yaml\n- uses: acme/ops-actions/actions/${action}@v1\n  with:\n${Object.entries(meta.inputs ?? {})
    .filter(([, v]) => v.required === true || v.required === 'true')
    .map(([k]) => `    ${k}: ...\n`)
    .join('')}\`\`\``;
  return [`# ${action}`, '', cell(meta.description), '', usage, '', `More in the [README](../README.md#${readmeAnchor(action)}).`, '', tables, ''].join('\n');
}

/** The README section of an action: the first '## <action>...' heading, as GitHub slugs it. */
export function readmeAnchor(action: string): string {
  const heading = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`## ${action}`));
  if (!heading) return action;
  return heading
    .slice(3)
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, '')
    .replace(/ /g, '-');
}

export function pagePath(action: string): string {
  return path.join(ROOT, 'docs', `${action}.md`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const a of actions()) {
    const p = pagePath(a);
    const current = existsSync(p) ? readFileSync(p, 'utf8') : undefined;
    const want = pageFor(a, current);
    if (want === current) continue;
    stale.push(path.relative(ROOT, p));
    if (!check) writeFileSync(p, want);
  }
  if (check && stale.length) {
    console.error(`these pages differ from their action.yml; run 'npm run docs' and commit them:\n${stale.join('\n')}`);
    process.exit(1);
  }
  console.log(check ? 'docs are up to date' : stale.length ? `wrote ${stale.join(', ')}` : 'docs were up to date');
}
