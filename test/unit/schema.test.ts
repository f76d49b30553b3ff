import { describe, expect, it } from 'vitest';
import { InputError, f, parseDuration, parseInputs } from '../../src/inputs/schema.js';
import { formatDuration } from '../../src/text.js';
import { appSchema } from '../../src/inputs/common.js';

function source(values: Record<string, string>) {
  const masked: string[] = [];
  return { masked, src: { read: (n: string) => values[n], mask: (v: string) => masked.push(v) } };
}

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['20', 20_000],
    [' 10s ', 10_000],
  ])('%s', (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  it.each(['', 'soon', '5 m', '-1s', '1w', '1e3s'])('rejects %j', (raw) => {
    expect(() => parseDuration(raw)).toThrow(/not a duration/);
  });

  it('formats', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(125_000)).toBe('2m5s');
    expect(formatDuration(21_600_000)).toBe('6h');
    expect(formatDuration(5_400_000)).toBe('1h30m');
  });
});

describe('parseInputs', () => {
  const schema = {
    ...appSchema,
    retries: f.int(0, 10, { default: 3 }),
    wait: f.duration({ default: 1000 }),
    verbose: f.bool({ default: false }),
    mode: f.enumOf(['a', 'b'] as const, { default: 'a' }),
    token: f.optionalString({ secret: true }),
    items: f.list(),
  };

  it('applies defaults and parses values', () => {
    const { src } = source({ app: 'shop', retries: '5', verbose: 'true', items: 'x, y\nz' });
    expect(parseInputs(schema, src)).toEqual({ app: 'shop', environment: 'production', retries: 5, wait: 1000, verbose: true, mode: 'a', token: undefined, items: ['x', 'y', 'z'] });
  });

  it('reports every bad input at once, each named', () => {
    const { src } = source({ app: 'a b', retries: '11', wait: 'soon', verbose: 'maybe', mode: 'c' });
    let err: InputError | undefined;
    try {
      parseInputs(schema, src);
    } catch (e) {
      err = e as InputError;
    }
    expect(err).toBeInstanceOf(InputError);
    expect(err!.problems.map((p) => p.input)).toEqual(['app', 'retries', 'wait', 'verbose', 'mode']);
    expect(err!.message).toContain("input 'retries': 11 is out of range; use 0..10");
    expect(err!.message).toContain("input 'wait': 'soon' is not a duration");
    expect(err!.message).toContain("input 'verbose': 'maybe' is not a boolean");
    expect(err!.message).toContain("input 'mode': 'c' is not one of: a, b");
  });

  it('names a missing required input', () => {
    const { src } = source({});
    expect(() => parseInputs(schema, src)).toThrow("input 'app': is required but was not set");
  });

  it('masks secrets before anything else, even when other inputs are bad', () => {
    const { src, masked } = source({ app: '', token: 's3cr3t-token' });
    expect(() => parseInputs(schema, src)).toThrow(InputError);
    expect(masked).toEqual(['s3cr3t-token']);
  });

  it('never echoes a secret in a parse error', () => {
    const s = {
      key: f.custom(
        (raw) => {
          throw new Error(`bad: ${raw}`);
        },
        { secret: true, required: true },
      ),
    };
    const { src } = source({ key: 'hunter2-secret' });
    expect(() => parseInputs(s, src)).toThrow(/input 'key': has an invalid value$/);
  });
});
