import { describe, expect, it } from 'vitest';
import { jsonAt, jsonValueMatches, parseHeaders, parseJsonExpectations, parseJsonPath, parseStatusSet, parseUrls, redactUrl, statusMatches } from '../../src/health/spec.js';
import { assertResponse } from '../../src/health/probe.js';
import { percentile } from '../../src/health/gate.js';

describe('expect-status', () => {
  it('parses codes and ranges', () => {
    const s = parseStatusSet('200,204 300-399');
    expect(s).toEqual([
      [200, 200],
      [204, 204],
      [300, 399],
    ]);
    expect(statusMatches(s, 204)).toBe(true);
    expect(statusMatches(s, 250)).toBe(false);
    expect(statusMatches(s, 399)).toBe(true);
  });
  it.each([
    ['99', /99 is not an HTTP status code/],
    ['600', /600 is not an HTTP status code/],
    ['2xx', /'2xx' is not a status code or range/],
    ['299-200', /backwards/],
    [',', /names no status code/],
  ])('rejects %s', (raw, msg) => expect(() => parseStatusSet(raw)).toThrow(msg));
});

describe('expect-json', () => {
  it('parses paths with keys, indexes and quoted keys', () => {
    expect(parseJsonPath('checks.database')).toEqual(['checks', 'database']);
    expect(parseJsonPath('items[0].status')).toEqual(['items', 0, 'status']);
    expect(parseJsonPath('"a.b".c')).toEqual(['a.b', 'c']);
  });
  it('parses lines and rejects lines without path=value', () => {
    expect(parseJsonExpectations('status=healthy\n checks.database = ok \n# comment')).toMatchObject([
      { path: ['status'], expected: 'healthy' },
      { path: ['checks', 'database'], expected: 'ok' },
    ]);
    expect(() => parseJsonExpectations('status healthy')).toThrow(/'status healthy' is not path=value/);
    expect(() => parseJsonExpectations('=x')).toThrow(/not path=value/);
    expect(() => parseJsonExpectations('a..b=1')).toThrow(/not a JSON path/);
  });
  it('compares values as text', () => {
    const doc = { status: 'healthy', ok: true, n: 42, nil: null, items: [{ s: 'up' }] };
    expect(jsonValueMatches(jsonAt(doc, ['status']), 'healthy')).toBe(true);
    expect(jsonValueMatches(jsonAt(doc, ['ok']), 'true')).toBe(true);
    expect(jsonValueMatches(jsonAt(doc, ['n']), '42')).toBe(true);
    expect(jsonValueMatches(jsonAt(doc, ['nil']), 'null')).toBe(true);
    expect(jsonValueMatches(jsonAt(doc, ['items', 0, 's']), 'up')).toBe(true);
    expect(jsonValueMatches(jsonAt(doc, ['missing']), 'undefined')).toBe(false);
  });
});

describe('responses', () => {
  const spec = { expectStatus: parseStatusSet('200-299'), expectJson: parseJsonExpectations('status=healthy\nchecks.db=ok'), expectBody: /healthy/ };
  it('passes a matching response and names the failing assertion otherwise', () => {
    expect(assertResponse(spec, 200, '{"status":"healthy","checks":{"db":"ok"}}')).toBeUndefined();
    expect(assertResponse(spec, 503, '')).toEqual({ kind: 'status', message: 'status 503 is not expected' });
    expect(assertResponse(spec, 200, 'nope')).toEqual({ kind: 'assertion', message: 'the body is not JSON' });
    expect(assertResponse(spec, 200, '{"status":"healthy","checks":{"db":"down"}}')!.message).toBe('expect-json \'checks.db=ok\': the body has "down"');
    expect(assertResponse(spec, 200, '{"status":"healthy"}')!.message).toBe("expect-json 'checks.db=ok': the body has no such field");
  });
});

describe('headers and urls', () => {
  it('parses headers', () => {
    expect(parseHeaders('Authorization: Bearer a:b\nHost: example.com')).toEqual([
      { name: 'Authorization', value: 'Bearer a:b' },
      { name: 'Host', value: 'example.com' },
    ]);
    expect(() => parseHeaders('no colon here')).toThrow(/not 'Name: value'/);
    expect(() => parseHeaders('Bad Name: x')).toThrow(/not 'Name: value'/);
  });
  it('parses URLs and never echoes a password', () => {
    expect(parseUrls('http://127.0.0.1:8080/health\nhttps://x.example/readyz').map(String)).toEqual(['http://127.0.0.1:8080/health', 'https://x.example/readyz']);
    expect(() => parseUrls('127.0.0.1:8080/health')).toThrow(/only http and https|not a URL/);
    expect(() => parseUrls('ftp://x/')).toThrow(/only http and https/);
    expect(() => parseUrls('http://user:hunter2@ bad')).toThrow(/'http:\/\/user:\*\*\*@ bad' is not a URL/);
    expect(redactUrl('https://u:p@x/y')).toBe('https://u:***@x/y');
  });
});

describe('percentile', () => {
  it('uses nearest rank', () => {
    expect(percentile([], 0.5)).toBeUndefined();
    expect(percentile([5], 0.95)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.5)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBe(10);
  });
});
