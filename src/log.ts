/**
 * The small logging/reporting interface the library takes, so actions, the demo, the
 * benchmarks and the tests drive the same code. Every message passes through `Secrets`.
 */

/** Known secret values; `redact` replaces each (and each line of a multi-line one). */
export class Secrets {
  private values: string[] = [];

  /** Register a secret; returns the parts registered (whole value and its lines). */
  add(value: string | undefined): string[] {
    if (!value) return [];
    const parts = new Set<string>();
    const v = value.trim();
    if (v.length >= 3) parts.add(v);
    for (const line of value.split(/\r?\n/)) {
      const l = line.trim();
      if (l.length >= 3) parts.add(l);
    }
    // As it appears inside JSON (outputs, history): quotes and backslashes escaped.
    for (const p of [...parts]) {
      const j = JSON.stringify(p).slice(1, -1);
      if (j !== p) parts.add(j);
    }
    const added = [...parts].filter((p) => !this.values.includes(p));
    this.values.push(...added);
    // Longest first, so a line inside a longer secret does not leave a remainder.
    this.values.sort((a, b) => b.length - a.length);
    return added;
  }

  redact(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('***');
    return out;
  }

  get size(): number {
    return this.values.length;
  }
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warning(msg: string): void;
  error(msg: string): void;
  /** Run `fn` inside a collapsible log group (a no-op grouping outside the runner). */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  readonly secrets: Secrets;
}

/** A logger that writes redacted lines to a sink; used by the demo, benches and tests. */
export class LineLogger implements Logger {
  readonly secrets: Secrets;
  constructor(
    private readonly sink: (line: string) => void = (l) => process.stderr.write(l + '\n'),
    opts: { secrets?: Secrets; debug?: boolean } = {},
  ) {
    this.secrets = opts.secrets ?? new Secrets();
    this.showDebug = opts.debug ?? false;
  }
  private readonly showDebug: boolean;
  private out(prefix: string, msg: string) {
    for (const l of this.secrets.redact(msg).split('\n')) this.sink(prefix + l);
  }
  debug(msg: string) {
    if (this.showDebug) this.out('[debug] ', msg);
  }
  info(msg: string) {
    this.out('', msg);
  }
  warning(msg: string) {
    this.out('warning: ', msg);
  }
  error(msg: string) {
    this.out('error: ', msg);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.out('▸ ', name);
    return fn();
  }
}

/** A logger that drops everything (still redacts nothing; nothing is written). */
export const silentLogger = (): Logger => new LineLogger(() => {});

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
