/**
 * One schema per action: each field names its input, how to parse it, its default and
 * whether it is secret. `parseInputs` reads every field, masks secrets first, and reports
 * every bad input at once, each message naming the input.
 */

export class InputError extends Error {
  constructor(readonly problems: { input: string; message: string }[]) {
    super(problems.map((p) => `input '${p.input}': ${p.message}`).join('\n'));
    this.name = 'InputError';
  }
}

import { ParseError, formatDuration } from '../text.js';

export interface Field<T> {
  parse(raw: string): T;
  /** Value when the input is empty or absent. `undefined` means the input is required. */
  readonly fallback?: () => T;
  readonly required: boolean;
  readonly secret: boolean;
}

type Opt<T> = { default?: T; secret?: boolean; required?: boolean };

function field<T>(parse: (raw: string) => T, o: Opt<T> & { optionalValue?: T }): Field<T> {
  const required = o.required ?? false;
  const hasDefault = 'default' in o;
  return {
    parse,
    required,
    secret: o.secret ?? false,
    fallback: required ? undefined : () => (hasDefault ? (o.default as T) : (o.optionalValue as T)),
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `5m`, `6h`, `2d`; a bare number is seconds. Returns milliseconds. */
export function parseDuration(raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m) throw new ParseError(`'${raw}' is not a duration; use a number with a unit, e.g. 500ms, 30s, 5m, 2h`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']!);
  return ms;
}

export function parseBool(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(v)) return true;
  if (['false', 'no', 'off', '0'].includes(v)) return false;
  throw new ParseError(`'${raw}' is not a boolean; use true or false`);
}

export function parseIntIn(raw: string, min: number, max: number): number {
  const v = raw.trim();
  if (!/^-?\d+$/.test(v)) throw new ParseError(`'${raw}' is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new ParseError(`${n} is out of range; use ${min}..${max}`);
  return n;
}

/** Lines or comma-separated items, trimmed, empty ones and `#` comments dropped. */
export function parseList(raw: string, commas = true): string[] {
  return raw
    .split(commas ? /[\n,]/ : /\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '' && !s.startsWith('#'));
}

export const f = {
  string: (o: Opt<string> & { pattern?: RegExp; hint?: string } = {}) =>
    field(
      (raw) => {
        const v = o.secret ? raw : raw.trim();
        if (o.pattern && !o.pattern.test(v)) throw new ParseError(`'${v}' is not valid${o.hint ? `; ${o.hint}` : ''}`);
        return v;
      },
      { ...o, optionalValue: '' },
    ),
  optionalString: (o: { secret?: boolean } = {}) => field<string | undefined>((raw) => (o.secret ? raw : raw.trim()), { ...o }),
  bool: (o: Opt<boolean> = {}) => field(parseBool, o),
  int: (min: number, max: number, o: Opt<number> = {}) => field((raw) => parseIntIn(raw, min, max), o),
  optionalInt: (min: number, max: number) => field<number | undefined>((raw) => parseIntIn(raw, min, max), {}),
  duration: (o: Opt<number> & { min?: number } = {}) =>
    field((raw) => {
      const ms = parseDuration(raw);
      if (o.min !== undefined && ms < o.min) throw new ParseError(`'${raw}' is too short; the minimum is ${formatDuration(o.min)}`);
      return ms;
    }, o),
  list: (o: Opt<string[]> & { commas?: boolean } = {}) => field((raw) => parseList(raw, o.commas ?? true), { ...o, optionalValue: [] }),
  enumOf: <T extends string>(values: readonly T[], o: Opt<T> = {}) =>
    field((raw) => {
      const v = raw.trim() as T;
      if (!values.includes(v)) throw new ParseError(`'${raw.trim()}' is not one of: ${values.join(', ')}`);
      return v;
    }, o),
  custom: <T>(parse: (raw: string) => T, o: Opt<T> = {}) => field(parse, o),
};

export type Schema = Record<string, Field<unknown>>;
export type Parsed<S extends Schema> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface InputSource {
  /** The raw value of an input, or undefined/'' when not given. */
  read(name: string): string | undefined;
  /** Register a secret value so no log, summary or output shows it. */
  mask(value: string): void;
}

export type Problem = { input: string; message: string };

/**
 * Parse every input of a schema without throwing: the values that parsed (failed ones get
 * their default, if they have one) and the problems. Secrets are masked first.
 */
export function collectInputs<S extends Schema>(schema: S, src: InputSource): { values: Parsed<S>; problems: Problem[] } {
  for (const [name, fld] of Object.entries(schema)) {
    if (!fld.secret) continue;
    const raw = src.read(name);
    if (raw) src.mask(raw);
  }
  const out: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [name, fld] of Object.entries(schema)) {
    const raw = src.read(name) ?? '';
    if (raw.trim() === '') {
      if (fld.required) problems.push({ input: name, message: 'is required but was not set' });
      else out[name] = fld.fallback!();
      continue;
    }
    try {
      out[name] = fld.parse(raw);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      // A secret's parse error must not echo its value.
      problems.push({ input: name, message: fld.secret ? 'has an invalid value' + (e instanceof ParseError && !msg.includes(raw) ? `: ${msg}` : '') : msg });
      if (fld.fallback) out[name] = fld.fallback();
    }
  }
  return { values: out as Parsed<S>, problems };
}

/** Parse every input of a schema; secrets are masked before anything else happens. */
export function parseInputs<S extends Schema>(schema: S, src: InputSource): Parsed<S> {
  const { values, problems } = collectInputs(schema, src);
  if (problems.length) throw new InputError(problems);
  return values;
}
