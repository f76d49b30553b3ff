/** Markdown for job summaries. User data is escaped: it can never become markup or HTML. */

export function esc(text: string): string {
  // A zero-width space after @: text from hosts never mentions a user or team (summaries end up in issues).
  return text
    .replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`)
    .replace(/@/g, '@\u200b')
    .replace(/\r?\n/g, ' ');
}

/** Inline code that cannot be broken out of (backticks inside are replaced). */
export function code(text: string): string {
  const t = text.replace(/`/g, 'ʼ').replace(/\r?\n/g, ' ');
  return t === '' ? '' : `\`${t}\``;
}

export function table(headers: string[], rows: string[][]): string {
  const head = `| ${headers.join(' | ')} |`;
  const sep = `| ${headers.map(() => '---').join(' | ')} |`;
  return [head, sep, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}

/** A fenced block whose fence is longer than any backtick run inside. */
export function fenced(text: string, lang = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${lang}\n${text}\n${fence}\n`;
}

export const STATUS_ICON: Record<string, string> = {
  succeeded: '✅ succeeded',
  failed: '❌ failed',
  skipped: '⏭️ skipped',
};
