/**
 * Job-summary markdown (what the actions write to GITHUB_STEP_SUMMARY) rendered for a
 * terminal: tables as aligned columns, headings and **bold** in bold, inline code without
 * its backticks, markdown escapes removed, <details><summary>X</summary> as an "X:"
 * heading, fenced blocks indented, a mermaid gantt chart as a text timeline, GitHub's
 * > [!WARNING] as "Warning:". Only the markdown the actions write is handled (see
 * src/report/markdown.ts); anything else passes through as text.
 */

export interface RenderOptions {
  /** ANSI styles (bold, dim, colors); off: plain text. */
  color?: boolean;
  /** Indent every line by this. */
  indent?: string;
  /** Fit tables into this many columns (wrapping cells, or one block per row); default 160. */
  width?: number;
}

const ESC = '\u001b';
const ANSI = new RegExp(`${ESC}\\[[0-9;]*m`, 'g');
const PUNCT = /[!-/:-@[-`{-~]/;

interface Styles {
  bold(s: string): string;
  dim(s: string): string;
  code(s: string): string;
  red(s: string): string;
}

function styles(color: boolean): Styles {
  const wrap = (on: string, off: string) => (s: string) => (color && s ? `${ESC}[${on}m${s}${ESC}[${off}m` : s);
  return { bold: wrap('1', '22'), dim: wrap('2', '22'), code: wrap('36', '39'), red: wrap('31', '39') };
}

/** East Asian wide characters and emoji shown in emoji presentation: two columns. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f680 && cp <= 0x1f6ff) ||
    (cp >= 0x1f900 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd) ||
    [
      0x231a, 0x231b, 0x23e9, 0x23ea, 0x23eb, 0x23ec, 0x23f0, 0x23f3, 0x25fd, 0x25fe, 0x2614, 0x2615, 0x267f, 0x2693, 0x26a1, 0x26aa, 0x26ab, 0x26bd, 0x26be, 0x26c4, 0x26c5, 0x26ce, 0x26d4, 0x26ea,
      0x26f2, 0x26f3, 0x26f5, 0x26fa, 0x26fd, 0x2705, 0x270a, 0x270b, 0x2728, 0x274c, 0x274e, 0x2753, 0x2754, 0x2755, 0x2757, 0x2795, 0x2796, 0x2797, 0x27b0, 0x27bf, 0x2b1b, 0x2b1c, 0x2b50, 0x2b55,
    ].includes(cp)
  );
}

/** Columns a string takes in a terminal (ANSI styles take none; emoji and CJK two). */
export function displayWidth(s: string): number {
  const cps = [...s.replace(ANSI, '')];
  let w = 0;
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!.codePointAt(0)!;
    if (cp === 0xfe0f || cp === 0xfe0e || cp === 0x200b || cp === 0x200d || (cp >= 0x300 && cp <= 0x36f)) continue;
    w += cps[i + 1] === '\ufe0f' || isWide(cp) ? 2 : 1;
  }
  return w;
}

const pad = (s: string, width: number, right = false) => {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(s)));
  return right ? fill + s : s + fill;
};

/**
 * Inline markdown to text: escapes (\-) become the character, `code` loses its backticks,
 * **bold** is bold, *emphasis* plain, [text](url) "text (url)", <br> a line break.
 */
export function renderInline(text: string, st: Styles = styles(false)): string {
  const s = text.replace(/\u200b/g, '');
  let out = '';
  let bold = false;
  let boldStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length && PUNCT.test(s[i + 1]!)) {
      out += s[++i];
      continue;
    }
    if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      const fence = '`'.repeat(n);
      let end = s.indexOf(fence, i + n);
      // A longer run of backticks does not close the span.
      while (end >= 0 && s[end + n] === '`') end = s.indexOf(fence, end + n + 1);
      if (end < 0) {
        out += fence;
        i += n - 1;
        continue;
      }
      let inner = s.slice(i + n, end);
      if (inner.length > 2 && inner.startsWith(' ') && inner.endsWith(' ')) inner = inner.slice(1, -1);
      out += st.code(inner.replace(/\\\|/g, '|'));
      i = end + n - 1;
      continue;
    }
    if (s.startsWith('**', i)) {
      if (!bold) boldStart = out.length;
      else out = out.slice(0, boldStart) + st.bold(out.slice(boldStart));
      bold = !bold;
      i++;
      continue;
    }
    // *emphasis*: plain (a literal * in user text is always escaped).
    if (c === '*') continue;
    if (c === '<') {
      const br = /^<br\s*\/?>/i.exec(s.slice(i));
      if (br) {
        out += '\n';
        i += br[0].length - 1;
        continue;
      }
    }
    if (c === '[') {
      const link = /^\[([^\]]*)\]\(([^)\s]+)\)/.exec(s.slice(i));
      if (link) {
        out += `${renderInline(link[1]!, st)} (${link[2]})`;
        i += link[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** A table row's cells: split on | that are not escaped (\| stays for the inline pass). */
function splitRow(line: string): string[] {
  let t = line.trim();
  if (t.startsWith('|')) t = t.slice(1);
  const cells: string[] = [];
  let cur = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    if (c === '\\' && i + 1 < t.length) {
      cur += c + t[i + 1];
      i++;
    } else if (c === '|') {
      cells.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') cells.push(cur);
  return cells.map((x) => x.trim());
}

const isSeparator = (line: string) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line);

/** Word-wrap one line to `width` columns (words longer than that are cut); styles carried over. */
function wrapLine(text: string, width: number): string[] {
  if (displayWidth(text) <= width) return [text];
  const out: string[] = [];
  let cur = '';
  const push = () => {
    out.push(cur.trimEnd());
    cur = '';
  };
  for (const word of text.split(/(?<= )/)) {
    let w = word;
    if (cur && displayWidth(cur) + displayWidth(w.trimEnd()) > width) push();
    while (displayWidth(w.trimEnd()) > width) {
      // Cut by characters (an ANSI sequence stays whole).
      let cut = '';
      for (const part of w.match(new RegExp(`${ESC}\\[[0-9;]*m|[\\s\\S]`, 'gu')) ?? []) {
        if (displayWidth(cut + part) > width) break;
        cut += part;
      }
      out.push(cut);
      w = w.slice(cut.length);
    }
    cur += w;
  }
  if (cur.trim()) push();
  // A style opened on one line and closed on a later one: close it at each line end, reopen after.
  let open = '';
  return out.map((l) => {
    const line = open + l;
    for (const m of l.matchAll(ANSI)) open = /\[(22|39|0)?m$/.test(m[0]) ? '' : open + m[0];
    return open ? `${line}${ESC}[0m` : line;
  });
}

/** The widest each column may be so that the table fits `max` columns (undefined: it cannot, above `min`). */
function fitWidths(widths: number[], max: number, min = 24): number[] | undefined {
  const gaps = 2 * (widths.length - 1);
  if (widths.reduce((a, b) => a + b, 0) + gaps <= max) return widths;
  // The largest cap c with sum(min(w, c)) + gaps <= max.
  let lo = 0;
  let hi = Math.max(...widths);
  while (lo < hi) {
    const c = Math.ceil((lo + hi) / 2);
    if (widths.reduce((a, w) => a + Math.min(w, c), 0) + gaps <= max) lo = c;
    else hi = c - 1;
  }
  return lo >= min ? widths.map((w) => Math.min(w, lo)) : undefined;
}

function renderTable(lines: string[], st: Styles, maxWidth: number): string[] {
  const sep = lines.findIndex(isSeparator);
  const right = sep >= 0 ? splitRow(lines[sep]!).map((c) => /^-+:$/.test(c)) : [];
  const rows = lines.filter((_, i) => i !== sep).map((l) => splitRow(l).map((c) => renderInline(c, st).split('\n')));
  const header = sep === 1 ? rows.shift() : undefined;
  const showHeader = header?.some((cell) => cell.some((x) => x.trim() !== ''));
  const all = showHeader && header ? [header, ...rows] : rows;
  const cols = Math.max(...all.map((r) => r.length));
  const natural = Array.from({ length: cols }, (_, c) => Math.max(0, ...all.map((r) => Math.max(0, ...(r[c] ?? ['']).map(displayWidth)))));
  const fitted = fitWidths(natural, maxWidth);
  const out: string[] = [];
  if (!fitted && header && showHeader) {
    // Too wide even with wrapped cells: one block per row, a line per column.
    const names = header.map((h) => h.join(' '));
    const nameWidth = Math.max(...names.slice(1).map(displayWidth));
    for (const r of rows) {
      out.push(st.bold((r[0] ?? []).join(' ')));
      for (let c = 1; c < cols; c++) {
        const value = (r[c] ?? []).join('\n');
        if (!value.trim()) continue;
        const lines = value.split('\n').flatMap((l) => wrapLine(l, Math.max(20, maxWidth - nameWidth - 4)));
        for (const [k, l] of lines.entries()) out.push(`  ${pad(k === 0 ? (names[c] ?? '') : '', nameWidth)}  ${l}`);
      }
    }
    return out;
  }
  const widths = fitted ?? natural;
  const cells = (r: string[][]) => widths.map((w, c) => (r[c] ?? ['']).flatMap((l) => wrapLine(l, w)));
  const line = (r: string[], style = (s: string) => s) =>
    widths
      .map((w, c) => style(pad(r[c] ?? '', c === cols - 1 && !right[c] ? 0 : w, right[c])))
      .join('  ')
      .trimEnd();
  const emit = (r: string[][], style?: (s: string) => string) => {
    const wrapped = cells(r);
    const height = Math.max(1, ...wrapped.map((cell) => cell.length));
    for (let k = 0; k < height; k++)
      out.push(
        line(
          wrapped.map((cell) => cell[k] ?? ''),
          style,
        ),
      );
  };
  if (showHeader && header) {
    emit(header, st.bold);
    out.push(st.dim(widths.map((w) => '─'.repeat(Math.max(1, w))).join('  ')));
  }
  for (const r of rows) emit(r);
  return out;
}

const dur = (ms: number) => (ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`);

/** A mermaid gantt chart (as src/report/timeline.ts writes it) as a text timeline with bars. */
function renderGantt(body: string[], st: Styles): string[] {
  let title = '';
  const sections: { name: string; tasks: { name: string; ok: boolean; start: number; end: number }[] }[] = [];
  for (const raw of body) {
    const l = raw.trim();
    if (l.startsWith('title ')) title = l.slice(6);
    else if (l.startsWith('section ')) sections.push({ name: l.slice(8), tasks: [] });
    else {
      const m = /^(.*?)\s*:\s*(done|crit|active)?\s*,?\s*(\d+)\s*,\s*(\d+)\s*$/.exec(l);
      if (m) {
        if (!sections.length) sections.push({ name: '', tasks: [] });
        sections[sections.length - 1]!.tasks.push({ name: m[1]!, ok: m[2] !== 'crit', start: Number(m[3]), end: Number(m[4]) });
      }
    }
  }
  const tasks = sections.flatMap((s) => s.tasks);
  if (!tasks.length) return [];
  const t0 = Math.min(...tasks.map((t) => t.start));
  const span = Math.max(1, Math.max(...tasks.map((t) => t.end)) - t0);
  const BAR = 32;
  const nameWidth = Math.max(...tasks.map((t) => displayWidth(t.name)));
  const out = [st.bold(`Timeline${title ? ` (${title})` : ''}:`)];
  for (const s of sections) {
    if (s.name) out.push(`  ${s.name}`);
    for (const t of s.tasks) {
      const a = Math.min(BAR - 1, Math.floor(((t.start - t0) / span) * BAR));
      const b = Math.max(a + 1, Math.min(BAR, Math.ceil(((t.end - t0) / span) * BAR)));
      const bar = '·'.repeat(a) + (t.ok ? '█' : '▒').repeat(b - a) + '·'.repeat(BAR - b);
      out.push(`    ${pad(t.name, nameWidth)}  ${t.ok ? bar : st.red(bar)}  ${dur(t.end - t.start)}${t.ok ? '' : ' ✗ failed'}`);
    }
  }
  return out;
}

/** Markdown as the actions write it, as terminal text. */
export function renderMarkdown(md: string, o: RenderOptions = {}): string {
  const st = styles(o.color ?? false);
  const lines = md.replace(/\r\n/g, '\n').split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^\s*(`{3,}|~{3,})\s*([\w-]*)\s*$/.exec(line);
    if (fence) {
      const close = fence[1]!;
      const body: string[] = [];
      while (++i < lines.length && !(lines[i]!.trim().startsWith(close) && lines[i]!.trim().replace(/[`~]/g, '') === '')) body.push(lines[i]!);
      if (fence[2] === 'mermaid') {
        const gantt = body.some((l) => l.trim() === 'gantt') ? renderGantt(body, st) : [];
        out.push(...(gantt.length ? gantt : [st.dim('(diagram omitted)')]));
      } else out.push(...body.map((l) => st.dim(`    ${l}`)));
      continue;
    }
    const details = /^\s*<details[^>]*>\s*(?:<summary>(.*?)<\/summary>)?\s*$/i.exec(line) ?? /^\s*<summary>(.*?)<\/summary>\s*$/i.exec(line);
    if (details) {
      if (details[1] !== undefined) out.push('', st.bold(`${renderInline(details[1], st)}:`));
      continue;
    }
    if (/^\s*<\/?[a-z][^>]*>\s*$/i.test(line) || /^\s*<!--.*-->\s*$/.test(line)) continue;
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const text = renderInline(heading[2]!, st);
      out.push(heading[1]!.length <= 2 ? st.bold(text) : st.bold(`${text}:`));
      continue;
    }
    if (/^\s*\|/.test(line)) {
      const block: string[] = [];
      while (i < lines.length && /^\s*\|/.test(lines[i]!)) block.push(lines[i++]!);
      i--;
      out.push(...renderTable(block, st, o.width ?? 160));
      continue;
    }
    const quote = /^\s*>\s?(.*)$/.exec(line);
    if (quote) {
      const alert = /^\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\]\s*$/i.exec(quote[1]!);
      if (alert) out.push(st.bold(`${alert[1]![0]}${alert[1]!.slice(1).toLowerCase()}:`));
      else {
        const item = /^[-*+]\s+(.*)$/.exec(quote[1]!);
        out.push(item ? `  • ${renderInline(item[1]!, st)}` : `  ${renderInline(quote[1]!, st)}`);
      }
      continue;
    }
    if (/^\s*(-{3,}|\*{3,}|_{3,})\s*$/.test(line)) {
      out.push(st.dim('─'.repeat(40)));
      continue;
    }
    const item = /^(\s*)[-*+]\s+(.*)$/.exec(line);
    if (item) {
      out.push(`${item[1]}  • ${renderInline(item[2]!, st)}`);
      continue;
    }
    out.push(renderInline(line, st));
  }
  const text = out
    .join('\n')
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return o.indent ? text.replace(/^(?=.)/gm, o.indent) : text;
}
