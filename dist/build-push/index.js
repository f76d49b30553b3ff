import { createRequire as __WEBPACK_EXTERNAL_createRequire } from "module";
/******/ // The require scope
/******/ var __nccwpck_require__ = {};
/******/ 
/************************************************************************/
/******/ /* webpack/runtime/compat get default export */
/******/ (() => {
/******/ 	// getDefaultExport function for compatibility with non-harmony modules
/******/ 	__nccwpck_require__.n = (module) => {
/******/ 		var getter = module && module.__esModule ?
/******/ 			() => (module['default']) :
/******/ 			() => (module);
/******/ 		__nccwpck_require__.d(getter, { a: getter });
/******/ 		return getter;
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/define property getters */
/******/ (() => {
/******/ 	// define getter functions for harmony exports
/******/ 	__nccwpck_require__.d = (exports, definition) => {
/******/ 		for(var key in definition) {
/******/ 			if(__nccwpck_require__.o(definition, key) && !__nccwpck_require__.o(exports, key)) {
/******/ 				Object.defineProperty(exports, key, { enumerable: true, get: definition[key] });
/******/ 			}
/******/ 		}
/******/ 	};
/******/ })();
/******/ 
/******/ /* webpack/runtime/hasOwnProperty shorthand */
/******/ (() => {
/******/ 	__nccwpck_require__.o = (obj, prop) => (Object.prototype.hasOwnProperty.call(obj, prop))
/******/ })();
/******/ 
/************************************************************************/
var __webpack_exports__ = {};

;// CONCATENATED MODULE: external "node:path"
const external_node_path_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:path");
var external_node_path_default = /*#__PURE__*/__nccwpck_require__.n(external_node_path_namespaceObject);
;// CONCATENATED MODULE: external "node:url"
const external_node_url_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:url");
;// CONCATENATED MODULE: ./src/action/esm-shim.ts
// Bundled CommonJS dependencies (ssh2's poly1305 loader) read the free variables
// `__dirname` / `__filename`, which ES modules do not have. Each action imports this
// module first so they exist before any dependency is evaluated.


const g = globalThis;
g.__filename ??= (0,external_node_url_namespaceObject.fileURLToPath)(import.meta.url);
g.__dirname ??= external_node_path_default().dirname(g.__filename);

;// CONCATENATED MODULE: external "node:crypto"
const external_node_crypto_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:crypto");
;// CONCATENATED MODULE: external "node:fs"
const external_node_fs_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:fs");
;// CONCATENATED MODULE: external "node:os"
const external_node_os_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:os");
var external_node_os_default = /*#__PURE__*/__nccwpck_require__.n(external_node_os_namespaceObject);
;// CONCATENATED MODULE: ./src/action/runner.ts
/**
 * The runner's protocol, which is all an action needs from @actions/core: workflow
 * commands on stdout (`::warning::`, `::add-mask::`, groups) and the environment files
 * (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_STEP_SUMMARY). Written here so the bundles do not
 * carry @actions/core's HTTP client (undici, the largest part of every bundle) for the OIDC
 * token no action here asks for.
 */



/** A command's data: `%`, CR and LF escaped so a message cannot end the command or start another. */
const escapeData = (s) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
function command(name, message) {
    process.stdout.write(`::${name}::${escapeData(message)}${external_node_os_namespaceObject.EOL}`);
}
const info = (m) => process.stdout.write(`${m}${external_node_os_namespaceObject.EOL}`);
const debug = (m) => command('debug', m);
const warning = (m) => command('warning', m);
const error = (m) => command('error', m);
const setSecret = (v) => command('add-mask', v);
async function group(name, fn) {
    command('group', name);
    try {
        return await fn();
    }
    finally {
        command('endgroup', '');
    }
}
/** `name<<delimiter` / value / `delimiter` into the runner's file (a delimiter the value cannot hold). */
function keyValue(name, value) {
    let delimiter = `ghadelimiter_${(0,external_node_crypto_namespaceObject.randomUUID)()}`;
    while (value.includes(delimiter) || name.includes(delimiter))
        delimiter = `ghadelimiter_${(0,external_node_crypto_namespaceObject.randomUUID)()}`;
    return `${name}<<${delimiter}${external_node_os_namespaceObject.EOL}${value}${external_node_os_namespaceObject.EOL}${delimiter}${external_node_os_namespaceObject.EOL}`;
}
function fileCommand(envName, legacy, name, value) {
    const file = process.env[envName];
    if (file)
        (0,external_node_fs_namespaceObject.appendFileSync)(file, keyValue(name, value), 'utf8');
    // Runners before the environment files read the old command.
    else
        process.stdout.write(`${external_node_os_namespaceObject.EOL}::${legacy} name=${name.replace(/%/g, '%25').replace(/:/g, '%3A').replace(/,/g, '%2C')}::${escapeData(value)}${external_node_os_namespaceObject.EOL}`);
}
const setOutput = (name, value) => fileCommand('GITHUB_OUTPUT', 'set-output', name, value);
const saveState = (name, value) => fileCommand('GITHUB_STATE', 'save-state', name, value);
const getState = (name) => process.env[`STATE_${name}`] ?? '';
/** Append markdown to the job summary (nothing outside a runner). */
function appendSummary(markdown) {
    const file = process.env.GITHUB_STEP_SUMMARY;
    if (file)
        (0,external_node_fs_namespaceObject.appendFileSync)(file, `${markdown}${external_node_os_namespaceObject.EOL}`, 'utf8');
}
/** Fail the step: its exit code, and the message as an error annotation. */
function setFailed(message) {
    process.exitCode = 1;
    error(message);
}

;// CONCATENATED MODULE: ./src/text.ts
/**
 * Small text helpers every layer uses; this module imports nothing, so the lowest layers
 * (host, commands) can use it without reaching up into inputs or fleet.
 */
/** Thrown by parsers of user-given values; the input schema adds the input's name. */
class ParseError extends Error {
}
function formatDuration(ms) {
    if (ms < 1000)
        return `${Math.round(ms)}ms`;
    if (ms < 60_000)
        return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
    if (ms < 3_600_000) {
        const m = Math.floor(ms / 60_000);
        const s = Math.round((ms % 60_000) / 1000);
        return s ? `${m}m${s}s` : `${m}m`;
    }
    const h = Math.floor(ms / 3_600_000);
    const m = Math.round((ms % 3_600_000) / 60_000);
    return m ? `${h}h${m}m` : `${h}h`;
}
/** The last `n` non-empty lines of a text. */
function tail(text, n = 20) {
    const lines = text.replace(/\s+$/, '').split(/\r?\n/);
    return lines.slice(-n).join('\n');
}
/** A byte count for people: `512 B`, `4.0 KiB`, `6.2 MiB`, `1.5 GiB`. */
function formatBytes(n) {
    if (n < 1024)
        return `${n} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${v.toFixed(1)} ${units[i]}`;
}

;// CONCATENATED MODULE: ./src/inputs/schema.ts
/**
 * One schema per action: each field names its input, how to parse it, its default and
 * whether it is secret. `parseInputs` reads every field, masks secrets first, and reports
 * every bad input at once, each message naming the input.
 */
class InputError extends Error {
    problems;
    constructor(problems) {
        super(problems.map((p) => `input '${p.input}': ${p.message}`).join('\n'));
        this.problems = problems;
        this.name = 'InputError';
    }
}

function field(parse, o) {
    const required = o.required ?? false;
    const hasDefault = 'default' in o;
    return {
        parse,
        required,
        secret: o.secret ?? false,
        fallback: required ? undefined : () => (hasDefault ? o.default : o.optionalValue),
    };
}
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** `500ms`, `30s`, `5m`, `6h`, `2d`; a bare number is seconds. Returns milliseconds. */
function parseDuration(raw) {
    const m = DURATION.exec(raw.trim());
    if (!m)
        throw new ParseError(`'${raw}' is not a duration; use a number with a unit, e.g. 500ms, 30s, 5m, 2h`);
    const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']);
    return ms;
}
function parseBool(raw) {
    const v = raw.trim().toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(v))
        return true;
    if (['false', 'no', 'off', '0'].includes(v))
        return false;
    throw new ParseError(`'${raw}' is not a boolean; use true or false`);
}
function parseIntIn(raw, min, max) {
    const v = raw.trim();
    if (!/^-?\d+$/.test(v))
        throw new ParseError(`'${raw}' is not a whole number`);
    const n = Number(v);
    if (n < min || n > max)
        throw new ParseError(`${n} is out of range; use ${min}..${max}`);
    return n;
}
/** Lines or comma-separated items, trimmed, empty ones and `#` comments dropped. */
function parseList(raw, commas = true) {
    return raw
        .split(commas ? /[\n,]/ : /\n/)
        .map((s) => s.trim())
        .filter((s) => s !== '' && !s.startsWith('#'));
}
const f = {
    string: (o = {}) => field((raw) => {
        const v = o.secret ? raw : raw.trim();
        if (o.pattern && !o.pattern.test(v))
            throw new ParseError(`'${v}' is not valid${o.hint ? `; ${o.hint}` : ''}`);
        return v;
    }, { ...o, optionalValue: '' }),
    optionalString: (o = {}) => field((raw) => (o.secret ? raw : raw.trim()), { ...o }),
    bool: (o = {}) => field(parseBool, o),
    int: (min, max, o = {}) => field((raw) => parseIntIn(raw, min, max), o),
    optionalInt: (min, max) => field((raw) => parseIntIn(raw, min, max), {}),
    duration: (o = {}) => field((raw) => {
        const ms = parseDuration(raw);
        if (o.min !== undefined && ms < o.min)
            throw new ParseError(`'${raw}' is too short; the minimum is ${formatDuration(o.min)}`);
        return ms;
    }, o),
    list: (o = {}) => field((raw) => parseList(raw, o.commas ?? true), { ...o, optionalValue: [] }),
    enumOf: (values, o = {}) => field((raw) => {
        const v = raw.trim();
        if (!values.includes(v))
            throw new ParseError(`'${raw.trim()}' is not one of: ${values.join(', ')}`);
        return v;
    }, o),
    custom: (parse, o = {}) => field(parse, o),
};
/**
 * Parse every input of a schema without throwing: the values that parsed (failed ones get
 * their default, if they have one) and the problems. Secrets are masked first.
 */
function collectInputs(schema, src) {
    for (const [name, fld] of Object.entries(schema)) {
        if (!fld.secret)
            continue;
        const raw = src.read(name);
        if (raw)
            src.mask(raw);
    }
    const out = {};
    const problems = [];
    for (const [name, fld] of Object.entries(schema)) {
        const raw = src.read(name) ?? '';
        if (raw.trim() === '') {
            if (fld.required)
                problems.push({ input: name, message: 'is required but was not set' });
            else
                out[name] = fld.fallback();
            continue;
        }
        try {
            out[name] = fld.parse(raw);
        }
        catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            // A secret's parse error must not echo its value.
            problems.push({ input: name, message: fld.secret ? 'has an invalid value' + (e instanceof ParseError && !msg.includes(raw) ? `: ${msg}` : '') : msg });
            if (fld.fallback)
                out[name] = fld.fallback();
        }
    }
    return { values: out, problems };
}
/** Parse every input of a schema; secrets are masked before anything else happens. */
function parseInputs(schema, src) {
    const { values, problems } = collectInputs(schema, src);
    if (problems.length)
        throw new InputError(problems);
    return values;
}

;// CONCATENATED MODULE: ./src/log.ts
/**
 * The small logging/reporting interface the library takes, so actions, the demo, the
 * benchmarks and the tests drive the same code. Every message passes through `Secrets`.
 */
/** Known secret values; `redact` replaces each (and each line of a multi-line one). */
class Secrets {
    values = [];
    /** Register a secret; returns the parts registered (whole value and its lines). */
    add(value) {
        if (!value)
            return [];
        const parts = new Set();
        const v = value.trim();
        if (v.length >= 3)
            parts.add(v);
        for (const line of value.split(/\r?\n/)) {
            const l = line.trim();
            if (l.length >= 3)
                parts.add(l);
        }
        // As it appears inside JSON (outputs, history): quotes and backslashes escaped.
        for (const p of [...parts]) {
            const j = JSON.stringify(p).slice(1, -1);
            if (j !== p)
                parts.add(j);
        }
        const added = [...parts].filter((p) => !this.values.includes(p));
        this.values.push(...added);
        // Longest first, so a line inside a longer secret does not leave a remainder.
        this.values.sort((a, b) => b.length - a.length);
        return added;
    }
    redact(text) {
        let out = text;
        for (const v of this.values)
            if (out.includes(v))
                out = out.split(v).join('***');
        return out;
    }
    get size() {
        return this.values.length;
    }
}
/** A logger that writes redacted lines to a sink; used by the demo, benches and tests. */
class LineLogger {
    sink;
    secrets;
    constructor(sink = (l) => process.stderr.write(l + '\n'), opts = {}) {
        this.sink = sink;
        this.secrets = opts.secrets ?? new Secrets();
        this.showDebug = opts.debug ?? false;
    }
    showDebug;
    out(prefix, msg) {
        for (const l of this.secrets.redact(msg).split('\n'))
            this.sink(prefix + l);
    }
    debug(msg) {
        if (this.showDebug)
            this.out('[debug] ', msg);
    }
    info(msg) {
        this.out('', msg);
    }
    warning(msg) {
        this.out('warning: ', msg);
    }
    error(msg) {
        this.out('error: ', msg);
    }
    async group(name, fn) {
        this.out('▸ ', name);
        return fn();
    }
}
/** A logger that drops everything (still redacts nothing; nothing is written). */
const silentLogger = () => new LineLogger(() => { });
function errorMessage(e) {
    return e instanceof Error ? e.message : String(e);
}

;// CONCATENATED MODULE: ./src/action/runtime.ts



function runContext() {
    const env = process.env;
    const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
    const repository = env.GITHUB_REPOSITORY ?? '';
    const runId = env.GITHUB_RUN_ID ?? '';
    return {
        workspace: env.GITHUB_WORKSPACE ?? process.cwd(),
        repository,
        sha: env.GITHUB_SHA ?? '',
        ref: env.GITHUB_REF ?? '',
        actor: env.GITHUB_ACTOR ?? '',
        runId,
        runUrl: repository && runId ? `${server}/${repository}/actions/runs/${runId}` : '',
    };
}
/** A Logger on the runner's commands; every line is redacted and every secret registered with the runner. */
class CoreLogger {
    secrets = new Secrets();
    r = (m) => this.secrets.redact(m);
    debug(m) {
        debug(this.r(m));
    }
    info(m) {
        info(this.r(m));
    }
    warning(m) {
        warning(this.r(m));
    }
    error(m) {
        error(this.r(m));
    }
    group(name, fn) {
        return group(this.r(name), fn);
    }
    mask(value) {
        for (const part of this.secrets.add(value))
            setSecret(part);
    }
}
function context(logger) {
    return {
        logger,
        run: runContext(),
        inputs: {
            read: (name) => process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`],
            mask: (v) => logger.mask(v),
        },
        setOutput: (name, value) => setOutput(name, logger.secrets.redact(String(value))),
        summary: async (md) => appendSummary(logger.secrets.redact(md)),
        saveState: (name, value) => saveState(name, value),
        getState: (name) => getState(name),
    };
}
/**
 * Run an action's main (and, in the `post:` step, its post) function: one error path that
 * fails the step with a redacted message. Input errors list every bad input.
 */
async function runAction(main, post) {
    const logger = new CoreLogger();
    const ctx = context(logger);
    const isPost = getState('isPost') === 'true';
    try {
        if (isPost) {
            if (post)
                await post(ctx);
            return;
        }
        saveState('isPost', 'true');
        await main(ctx);
    }
    catch (e) {
        const msg = logger.secrets.redact(errorMessage(e));
        if (e instanceof InputError)
            setFailed(`invalid input:\n${msg}`);
        else
            setFailed(msg);
    }
}

;// CONCATENATED MODULE: external "node:child_process"
const external_node_child_process_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:child_process");
;// CONCATENATED MODULE: ./src/build/docker.ts
/** The docker CLI on the runner, as argument lists; secrets reach it only through stdin, files or the environment. */




/** Run the docker CLI; output is streamed to the log (redacted by the logger) and captured. */
function docker(args, o) {
    return new Promise((resolve, reject) => {
        const child = (0,external_node_child_process_namespaceObject.spawn)('docker', args, { env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const emit = (chunk) => {
            if (!o.quiet)
                for (const l of chunk.replace(/\n$/, '').split('\n'))
                    o.logger.info(l);
        };
        child.stdout.on('data', (d) => {
            stdout += d;
            emit(d.toString());
        });
        child.stderr.on('data', (d) => {
            stderr += d;
            emit(d.toString());
        });
        child.on('error', (e) => reject(new Error(`cannot run docker: ${e.message}; is the Docker CLI installed on the runner?`)));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.end(o.input ?? '');
    });
}
/** `docker build` (the classic builder, or BuildKit behind it): no secrets, inline cache only. */
function buildArgs(b) {
    return [
        'build',
        '--file',
        b.file,
        '--iidfile',
        b.iidFile,
        ...b.tags.flatMap((t) => ['--tag', t]),
        ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        ...b.buildArgNames.flatMap((n) => ['--build-arg', n]),
        ...(b.cacheFrom.length ? ['--build-arg', 'BUILDKIT_INLINE_CACHE=1', ...b.cacheFrom.flatMap((c) => ['--cache-from', c])] : []),
        ...(b.target ? ['--target', b.target] : []),
        ...(b.platforms.length ? ['--platform', b.platforms.join(',')] : []),
        ...(b.network ? ['--network', b.network] : []),
        b.context,
    ];
}
/**
 * `docker buildx build`. Cache: with the `docker` driver, inline cache metadata in the pushed
 * image and `type=registry` import of the previous images (the only export that driver
 * has); with `docker-container`/`remote` drivers, a `type=registry` cache image
 * (`<image>:buildcache`, mode=max). Without push, the image is loaded into the engine.
 */
function buildxArgs(b) {
    const docker = b.driver === 'docker';
    const cache = !b.cache
        ? []
        : docker
            ? [...b.cacheFrom.flatMap((c) => ['--cache-from', `type=registry,ref=${c}`]), ...(b.push ? ['--cache-to', 'type=inline'] : [])]
            : b.cacheRef
                ? ['--cache-from', `type=registry,ref=${b.cacheRef}`, ...(b.push ? ['--cache-to', `type=registry,ref=${b.cacheRef},mode=max`] : [])]
                : [];
    return [
        'buildx',
        'build',
        '--progress',
        'plain',
        '--file',
        b.file,
        '--iidfile',
        b.iidFile,
        '--metadata-file',
        b.metadataFile,
        ...b.tags.flatMap((t) => ['--tag', t]),
        ...Object.entries(b.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
        ...b.buildArgNames.flatMap((n) => ['--build-arg', n]),
        ...Object.entries(b.secretFiles).flatMap(([id, file]) => ['--secret', `id=${id},src=${file}`]),
        ...cache,
        ...(b.target ? ['--target', b.target] : []),
        ...(b.platforms.length ? ['--platform', b.platforms.join(',')] : []),
        ...(b.network ? ['--network', b.network] : []),
        ...(b.push ? ['--push'] : docker ? [] : ['--load']),
        b.context,
    ];
}
/** How many build steps were served from cache (legacy builder: "Using cache"; BuildKit: "CACHED"). */
function cachedSteps(output) {
    const cached = (output.match(/Using cache|\bCACHED\b/g) ?? []).length;
    const steps = (output.match(/^Step \d+\/\d+ :|^#\d+ \[[^\]]*\d+\/\d+\]/gm) ?? []).length;
    return { cached, steps };
}
/**
 * Build-arg names that must not be set: their values reach docker through the CLI's own
 * environment, so these would redirect the CLI itself (its PATH, config, daemon, TLS).
 */
function reservedBuildArg(name) {
    return /^(PATH|HOME|USER|SHELL|TMPDIR|GODEBUG|GOTRACEBACK|SSL_CERT_FILE|SSL_CERT_DIR|LD_.*|DOCKER_.*|BUILDKIT_.*|BUILDX_.*|XDG_.*)$/i.test(name);
}
/** The docker config directory the CLI uses now. */
function currentDockerConfig(env = process.env) {
    return env.DOCKER_CONFIG || external_node_path_default().join(env.HOME || external_node_os_default().homedir(), '.docker');
}
/**
 * A private docker config for one build: credentials from `docker login` land here and
 * nowhere else. The user's CLI plugins (buildx), builder instances and contexts stay
 * available, and their config.json is kept without its credentials.
 */
function privateDockerConfig(parent, base = currentDockerConfig()) {
    const dir = (0,external_node_fs_namespaceObject.mkdtempSync)(external_node_path_default().join(parent, 'docker-config-'));
    for (const sub of ['cli-plugins', 'buildx', 'contexts']) {
        const from = external_node_path_default().join(base, sub);
        if ((0,external_node_fs_namespaceObject.existsSync)(from))
            (0,external_node_fs_namespaceObject.symlinkSync)(from, external_node_path_default().join(dir, sub));
    }
    const cfg = external_node_path_default().join(base, 'config.json');
    if ((0,external_node_fs_namespaceObject.existsSync)(cfg)) {
        try {
            const j = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(cfg, 'utf8'));
            delete j.auths;
            delete j.credsStore;
            delete j.credHelpers;
            (0,external_node_fs_namespaceObject.writeFileSync)(external_node_path_default().join(dir, 'config.json'), JSON.stringify(j, null, 2), { mode: 0o600 });
        }
        catch {
            /* an unreadable config: start empty */
        }
    }
    else if ((0,external_node_fs_namespaceObject.existsSync)(external_node_path_default().join(base, 'daemon.json')))
        (0,external_node_fs_namespaceObject.copyFileSync)(external_node_path_default().join(base, 'daemon.json'), external_node_path_default().join(dir, 'daemon.json'));
    return dir;
}
/** The builder on this runner: buildx with its driver, or the classic `docker build`. */
async function detectBuilder(env, logger) {
    const v = await docker(['buildx', 'version'], { env, logger, quiet: true }).catch(() => ({ code: 1, stdout: '', stderr: '' }));
    if (v.code !== 0)
        return { kind: 'docker' };
    const inspect = await docker(['buildx', 'inspect'], { env, logger, quiet: true });
    const driver = /^Driver:\s*(\S+)/m.exec(inspect.stdout)?.[1] ?? 'docker';
    return { kind: 'buildx', driver, version: v.stdout.trim().split(/\s+/).slice(1, 2).join('') };
}

;// CONCATENATED MODULE: external "node:dns/promises"
const promises_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:dns/promises");
var promises_default = /*#__PURE__*/__nccwpck_require__.n(promises_namespaceObject);
;// CONCATENATED MODULE: external "node:net"
const external_node_net_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:net");
var external_node_net_default = /*#__PURE__*/__nccwpck_require__.n(external_node_net_namespaceObject);
;// CONCATENATED MODULE: external "node:http"
const external_node_http_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:http");
var external_node_http_default = /*#__PURE__*/__nccwpck_require__.n(external_node_http_namespaceObject);
;// CONCATENATED MODULE: external "node:https"
const external_node_https_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:https");
var external_node_https_default = /*#__PURE__*/__nccwpck_require__.n(external_node_https_namespaceObject);
;// CONCATENATED MODULE: external "node:tls"
const external_node_tls_namespaceObject = __WEBPACK_EXTERNAL_createRequire(import.meta.url)("node:tls");
var external_node_tls_default = /*#__PURE__*/__nccwpck_require__.n(external_node_tls_namespaceObject);
;// CONCATENATED MODULE: ./src/build/http.ts
/**
 * A small HTTP(S) GET for registry calls that honours the proxy variables the way curl and
 * Docker do (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, upper or lower case; HTTPS through a
 * CONNECT tunnel) and can skip certificate checks for registries the engine itself treats
 * as insecure.
 */




const envVar = (env, name) => env[name] ?? env[name.toLowerCase()] ?? '';
/** Whether NO_PROXY exempts `host:port` (entries: `*`, `host`, `.domain`, `domain`, `host:port`, IPs, CIDR-free). */
function bypassesProxy(host, port, noProxy) {
    const h = host.toLowerCase().replace(/^\[|\]$/g, '');
    for (const raw of noProxy
        .split(/[,\s]+/)
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean)) {
        if (raw === '*')
            return true;
        const m = /^(.*?)(?::(\d+))?$/.exec(raw.replace(/^\[|\]$/g, ''));
        const name = m[1].replace(/^\*?\./, '.');
        if (m[2] && Number(m[2]) !== port)
            continue;
        if (name.startsWith('.') ? h.endsWith(name) || h === name.slice(1) : h === name || h.endsWith(`.${name}`))
            return true;
    }
    return false;
}
/** The proxy URL for a request URL, or undefined. */
function proxyFor(url, env = process.env) {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (bypassesProxy(url.hostname, port, envVar(env, 'NO_PROXY')))
        return undefined;
    const p = url.protocol === 'https:' ? envVar(env, 'HTTPS_PROXY') || envVar(env, 'ALL_PROXY') : envVar(env, 'HTTP_PROXY') || envVar(env, 'ALL_PROXY');
    if (!p)
        return undefined;
    try {
        return new URL(p.includes('://') ? p : `http://${p}`);
    }
    catch {
        return undefined;
    }
}
function proxyAuth(p) {
    return p.username ? { 'proxy-authorization': `Basic ${Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64')}` } : {};
}
/** A CONNECT tunnel through an HTTP proxy to host:port. */
function tunnel(p, host, port, timeoutMs) {
    return new Promise((resolve, reject) => {
        const req = (p.protocol === 'https:' ? (external_node_https_default()) : (external_node_http_default())).request({
            host: p.hostname,
            port: Number(p.port || (p.protocol === 'https:' ? 443 : 80)),
            method: 'CONNECT',
            path: `${host}:${port}`,
            headers: { host: `${host}:${port}`, ...proxyAuth(p) },
            timeout: timeoutMs,
        });
        req.on('connect', (res, socket) => {
            if (res.statusCode === 200)
                resolve(socket);
            else {
                socket.destroy();
                reject(new Error(`the proxy ${p.host} refused the tunnel to ${host}:${port}: HTTP ${res.statusCode}`));
            }
        });
        req.on('timeout', () => req.destroy(new Error(`the proxy ${p.host} did not answer within ${timeoutMs}ms`)));
        req.on('error', reject);
        req.end();
    });
}
async function httpGet(raw, o = {}) {
    const url = new URL(String(raw));
    const isHttps = url.protocol === 'https:';
    const port = Number(url.port || (isHttps ? 443 : 80));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const timeoutMs = o.timeoutMs ?? 30_000;
    const proxy = proxyFor(url, o.env ?? process.env);
    const headers = { ...(o.headers ?? {}), host: url.host };
    let opts;
    if (proxy && isHttps) {
        const sock = await tunnel(proxy, host, port, timeoutMs);
        opts = {
            host,
            port,
            path: `${url.pathname}${url.search}`,
            headers,
            createConnection: () => external_node_tls_default().connect({ socket: sock, servername: external_node_net_default().isIP(host) ? undefined : host, host, rejectUnauthorized: !o.insecureTls }),
            agent: undefined,
        };
    }
    else if (proxy) {
        // A plain request through the proxy (TLS to the proxy itself for an https:// proxy).
        const viaTls = proxy.protocol === 'https:';
        return new Promise((resolve, reject) => {
            const req = (viaTls ? (external_node_https_default()) : (external_node_http_default())).request({ host: proxy.hostname, port: Number(proxy.port || (viaTls ? 443 : 80)), path: url.href, headers: { ...headers, ...proxyAuth(proxy) }, agent: false, method: 'GET', timeout: timeoutMs }, (res) => collect(res, resolve, reject));
            req.on('timeout', () => req.destroy(new Error(`no answer from the proxy ${proxy.host} within ${timeoutMs}ms`)));
            req.on('error', reject);
            req.end();
        });
    }
    else {
        opts = { host, port, path: `${url.pathname}${url.search}`, headers, agent: false, rejectUnauthorized: !o.insecureTls, servername: external_node_net_default().isIP(host) ? undefined : host };
    }
    return new Promise((resolve, reject) => {
        const req = (isHttps ? (external_node_https_default()) : (external_node_http_default())).request({ ...opts, method: 'GET', timeout: timeoutMs }, (res) => collect(res, resolve, reject));
        req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs}ms`)));
        req.on('error', reject);
        req.end();
    });
}
function collect(res, resolve, reject) {
    const chunks = [];
    res.on('data', (d) => chunks.push(d));
    res.on('error', reject);
    res.on('end', () => {
        const h = {};
        for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined)
                h[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
    });
}

;// CONCATENATED MODULE: ./src/build/registry.ts
/**
 * Just enough of the registry API to read a pushed manifest: its digest (as the registry
 * computes it, not the local image id) and its size. Basic and Bearer (token) auth.
 *
 * Whether a registry is spoken to over plain HTTP is decided the way the Docker engine
 * decides it (its `RegistryConfig`: registries named insecure, and insecure CIDRs, which
 * include 127.0.0.0/8 by default): HTTPS first, and for insecure registries only, a
 * fallback to HTTP (and no certificate check). Credentials are never sent over plain HTTP
 * to a registry the engine does not treat as insecure.
 */




/** `ghcr.io/acme/shop` → ghcr.io + acme/shop; `shop` → docker.io + library/shop. */
function parseImageName(image) {
    const name = image.replace(/@.*$/, '').replace(/:[^/]*$/, '');
    const first = name.split('/')[0];
    const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
    if (hasRegistry)
        return { registry: first, repository: name.slice(first.length + 1) };
    return { registry: 'docker.io', repository: name.includes('/') ? name : `library/${name}` };
}
function parseRegistryConfig(json) {
    const c = JSON.parse(json);
    const indexes = {};
    for (const [k, v] of Object.entries(c.IndexConfigs ?? {}))
        indexes[v.Name ?? k] = { secure: v.Secure !== false };
    return { insecureCidrs: c.InsecureRegistryCIDRs ?? [], indexes };
}
function inCidr(ip, cidr) {
    const [base = '', bitsText] = cidr.split('/');
    const family = external_node_net_default().isIP(ip);
    if (!family || family !== external_node_net_default().isIP(base))
        return false;
    const bits = Number(bitsText ?? (family === 4 ? 32 : 128));
    const bl = new (external_node_net_default()).BlockList();
    bl.addSubnet(base, bits, family === 4 ? 'ipv4' : 'ipv6');
    return bl.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
/**
 * As the engine decides (registry/config.go isSecureIndex): a registry configured by name
 * has its own setting; otherwise it is insecure if any address it resolves to is in an
 * insecure CIDR.
 */
async function isInsecureRegistry(registry, cfg, lookup = resolveAll) {
    if (registry === 'docker.io')
        return false;
    const byName = cfg.indexes[registry];
    if (byName)
        return !byName.secure;
    const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const ips = external_node_net_default().isIP(host) ? [host] : await lookup(host).catch(() => []);
    return ips.some((ip) => cfg.insecureCidrs.some((c) => inCidr(ip, c)));
}
async function resolveAll(host) {
    return (await promises_default().lookup(host, { all: true })).map((a) => a.address);
}
const ACCEPT = [
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
].join(', ');
async function authorize(challenge, repository, creds, access, registryUrl) {
    const basic = creds.username ? `Basic ${Buffer.from(`${creds.username}:${creds.password ?? ''}`).toString('base64')}` : undefined;
    // Credentials travel in clear over http: only to a registry the engine trusts as insecure.
    const mayCarry = (u) => u.protocol === 'https:' || (access.insecure && u.host === registryUrl.host);
    if (/^basic/i.test(challenge))
        return mayCarry(registryUrl) ? basic : undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm)
        return mayCarry(registryUrl) ? basic : undefined;
    const url = new URL(params.realm);
    if (params.service)
        url.searchParams.set('service', params.service);
    url.searchParams.set('scope', params.scope ?? `repository:${repository}:pull`);
    const r = await httpGet(url, { headers: basic && mayCarry(url) ? { authorization: basic } : {}, env: access.env, insecureTls: access.insecure && url.host === registryUrl.host });
    if (r.status < 200 || r.status >= 300)
        throw new Error(`the registry's token service answered ${r.status}`);
    const j = JSON.parse(r.body.toString('utf8'));
    const token = j.token ?? j.access_token;
    return token ? `Bearer ${token}` : undefined;
}
async function getManifest(base, repository, reference, creds, access) {
    const url = new URL(`/v2/${repository}/manifests/${reference}`, base);
    const o = { env: access.env, insecureTls: access.insecure };
    let res = await httpGet(url, { ...o, headers: { accept: ACCEPT } });
    if (res.status === 401) {
        const auth = await authorize(res.headers['www-authenticate'] ?? '', repository, creds, access, base);
        if (auth)
            res = await httpGet(url, { ...o, headers: { accept: ACCEPT, authorization: auth } });
    }
    return res;
}
async function readManifest(image, reference, creds = {}, access = { insecure: false }) {
    const { registry, repository } = parseImageName(image);
    const host = registry === 'docker.io' ? 'registry-1.docker.io' : registry;
    let res;
    try {
        res = await getManifest(new URL(`https://${host}`), repository, reference, creds, access);
    }
    catch (e) {
        if (!access.insecure)
            throw new Error(`reading ${repository}:${reference} from ${registry} over HTTPS failed: ${e.message}`);
        // An insecure registry may speak plain HTTP, as the engine allows.
        res = await getManifest(new URL(`http://${host}`), repository, reference, creds, access);
    }
    if (res.status < 200 || res.status >= 300)
        throw new Error(`reading ${repository}:${reference} from ${registry} failed: HTTP ${res.status}`);
    const body = res.body;
    const digest = res.headers['docker-content-digest'] ?? `sha256:${(0,external_node_crypto_namespaceObject.createHash)('sha256').update(body).digest('hex')}`;
    const m = JSON.parse(body.toString('utf8'));
    const size = m.layers ? (m.config?.size ?? 0) + m.layers.reduce((n, l) => n + l.size, 0) : (m.manifests ?? []).reduce((n, l) => n + l.size, 0);
    return { digest, size, mediaType: m.mediaType ?? res.headers['content-type'] ?? '' };
}
/** The digest `docker push` reports for the tag it pushed (`<tag>: digest: sha256:... size: N`). */
function pushedDigest(output) {
    return /digest: (sha256:[0-9a-f]{64})/.exec(output)?.[1];
}

;// CONCATENATED MODULE: ./src/flows/build-push.ts
/**
 * build-push as a flow: log in (to a private docker config) → build (buildx when the
 * runner has it, else `docker build`) → push → the digest the registry reports → size.
 */






class BuildInputError extends Error {
    input;
    constructor(input, message) {
        super(message);
        this.input = input;
    }
}
async function buildPush(cfg, logger) {
    const quiet = { logger, quiet: true };
    const reg = cfg.registry || parseImageName(cfg.image).registry;
    // Credentials go to a private, temporary docker config, through stdin only.
    const cfgDir = cfg.password ? privateDockerConfig(cfg.tempDir) : undefined;
    const work = (0,external_node_fs_namespaceObject.mkdtempSync)(external_node_path_default().join(cfg.tempDir, 'build-'));
    const env = { ...(cfgDir ? { DOCKER_CONFIG: cfgDir } : {}), ...cfg.buildArgs };
    try {
        const found = await detectBuilder(env, logger);
        const useBuildx = cfg.builder === 'buildx' || (cfg.builder === 'auto' && found.kind === 'buildx');
        if (useBuildx && found.kind !== 'buildx')
            throw new BuildInputError('builder', "is 'buildx' but docker buildx is not installed on this runner (docker/setup-buildx-action installs it)");
        const native = `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;
        if (!useBuildx) {
            if (cfg.platforms.length && (cfg.platforms.length > 1 || cfg.platforms[0] !== native)) {
                throw new BuildInputError('platforms', `${cfg.platforms.join(', ')} needs docker buildx, which this runner does not have${cfg.builder === 'docker' ? " (or 'builder: docker' was asked for)" : ''}; without it only the native ${native} can be built`);
            }
            const ids = [...Object.keys(cfg.secrets), ...Object.keys(cfg.secretFiles)];
            if (ids.length)
                throw new BuildInputError(Object.keys(cfg.secrets).length ? 'secrets' : 'secret-files', 'BuildKit secrets need docker buildx on the runner (GitHub-hosted runners have it; docker/setup-buildx-action installs it)');
        }
        const driver = found.kind === 'buildx' ? found.driver : '';
        const builderName = useBuildx && found.kind === 'buildx' ? `buildx ${found.version} (${driver} driver)` : 'docker build';
        if (cfg.password) {
            if (!cfg.username)
                throw new BuildInputError('username', `is required to log in to ${reg} with 'password'`);
            const login = await docker(['login', reg, '--username', cfg.username, '--password-stdin'], { env, input: cfg.password, ...quiet });
            if (login.code !== 0)
                throw new Error(`login to ${reg} as ${cfg.username} failed: ${tail(login.stderr || login.stdout, 3)}; check 'username' and 'password' (for ghcr.io the token needs packages: write)`);
            logger.info(`logged in to ${reg} as ${cfg.username}`);
        }
        // Cache: the previous image of this ref (or latest), whose inline cache metadata seeds the build.
        const cacheFrom = [];
        const candidates = [...new Set([cfg.refs.find((r) => !r.endsWith(':latest') && !/:sha-/.test(r)), `${cfg.image}:latest`].filter((r) => !!r))];
        if (cfg.cache && cfg.push) {
            if (useBuildx)
                cacheFrom.push(...(driver === 'docker' ? candidates : []));
            else {
                for (const candidate of candidates) {
                    const pulled = await docker(['pull', '--quiet', candidate], { env, ...quiet });
                    if (pulled.code === 0)
                        cacheFrom.push(candidate);
                }
            }
            logger.info(driver && driver !== 'docker' && useBuildx
                ? `cache: registry cache ${cfg.image}:buildcache`
                : cacheFrom.length
                    ? `cache: layers from ${cacheFrom.join(', ')}`
                    : 'cache: no previous image to reuse layers from');
        }
        const iidFile = external_node_path_default().join(work, 'iid');
        const metadataFile = external_node_path_default().join(work, 'metadata.json');
        const secretFiles = { ...cfg.secretFiles };
        for (const [id, value] of Object.entries(cfg.secrets)) {
            const f = external_node_path_default().join(work, `secret-${Object.keys(secretFiles).length}`);
            (0,external_node_fs_namespaceObject.writeFileSync)(f, value, { mode: 0o600 });
            secretFiles[id] = f;
        }
        const started = Date.now();
        const spec = {
            context: cfg.context,
            file: cfg.file,
            tags: cfg.refs,
            labels: cfg.labels,
            buildArgNames: Object.keys(cfg.buildArgs),
            target: cfg.target,
            cacheFrom,
            iidFile,
            platforms: cfg.platforms,
            network: cfg.network,
        };
        const args = useBuildx ? buildxArgs({ ...spec, metadataFile, secretFiles, push: cfg.push, driver, cache: cfg.cache, cacheRef: `${cfg.image}:buildcache` }) : buildArgs(spec);
        const built = await logger.group(`${useBuildx ? 'docker buildx build' : 'docker build'} ${cfg.refs[0]}`, () => docker(args, { env, logger }));
        const buildMs = Date.now() - started;
        if (built.code !== 0) {
            throw new Error(`${useBuildx ? 'docker buildx build' : 'docker build'} failed (exit ${built.code}); the failing step's output:\n${tail(built.stderr + '\n' + built.stdout, 25)}`);
        }
        const imageId = (0,external_node_fs_namespaceObject.existsSync)(iidFile) ? (0,external_node_fs_namespaceObject.readFileSync)(iidFile, 'utf8').trim() : '';
        const cache = cachedSteps(built.stdout + built.stderr);
        logger.info(`built with ${builderName} in ${formatDuration(buildMs)}`);
        let digest = '';
        let size = 0;
        if (cfg.push) {
            const digests = new Map();
            if (useBuildx) {
                // buildx pushed every tag; its metadata names the digest the registry accepted.
                const meta = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(metadataFile, 'utf8'));
                const d = String(meta['containerimage.digest'] ?? '');
                if (!/^sha256:[0-9a-f]{64}$/.test(d))
                    throw new Error(`docker buildx did not report the pushed digest in its metadata file (${JSON.stringify(meta).slice(0, 200)})`);
                for (const r of cfg.refs)
                    digests.set(r, d);
            }
            else {
                // The digest each push reports is the registry's own; every tag must point at the same one.
                for (const r of cfg.refs) {
                    const pushed = await docker(['push', r], { env, ...quiet });
                    if (pushed.code !== 0)
                        throw new Error(`docker push ${r} failed: ${tail(pushed.stderr || pushed.stdout, 5)}`);
                    const d = pushedDigest(pushed.stdout + pushed.stderr);
                    if (d)
                        digests.set(r, d);
                    logger.info(`pushed ${r}${d ? ` (${d})` : ''}`);
                }
            }
            // Plain HTTP only where the engine itself allows it (its insecure registries and CIDRs).
            const info = await docker(['info', '--format', '{{json .RegistryConfig}}'], { env, ...quiet });
            const insecure = info.code === 0 ? await isInsecureRegistry(parseImageName(cfg.image).registry, parseRegistryConfig(info.stdout.trim())) : false;
            // The login's credentials go only to the registry they are for.
            const creds = parseImageName(cfg.image).registry === reg ? { username: cfg.username, password: cfg.password } : {};
            let manifest;
            try {
                manifest = await readManifest(cfg.image, cfg.tags[0], creds, { insecure });
            }
            catch (e) {
                if (!digests.size)
                    throw e;
                logger.warning(`could not read the manifest of ${cfg.refs[0]} from the registry (size-bytes is unknown): ${e.message}`);
            }
            digest = digests.get(cfg.refs[0]) ?? manifest.digest;
            size = manifest?.size ?? 0;
            if (manifest && manifest.digest !== digest)
                throw new Error(`the registry has ${cfg.refs[0]} at ${manifest.digest}, but the build reported ${digest}; another push raced this one`);
            for (const [i, t] of cfg.tags.entries()) {
                if (i === 0)
                    continue;
                const other = useBuildx ? (await readManifest(cfg.image, t, creds, { insecure })).digest : (digests.get(cfg.refs[i]) ?? (await readManifest(cfg.image, t, creds, { insecure })).digest);
                if (other !== digest)
                    throw new Error(`the registry has ${cfg.image}:${t} at ${other}, not ${digest}; another push raced this one`);
            }
        }
        else if (imageId) {
            const inspected = await docker(['image', 'inspect', '--format', '{{.Size}}', imageId], { env, ...quiet });
            size = Number(inspected.stdout.trim()) || 0;
        }
        return { imageId, digest, size, cachedSteps: cache.cached, cacheFrom, buildMs, builder: builderName };
    }
    finally {
        if (cfgDir)
            (0,external_node_fs_namespaceObject.rmSync)(cfgDir, { recursive: true, force: true });
        (0,external_node_fs_namespaceObject.rmSync)(work, { recursive: true, force: true });
    }
}

;// CONCATENATED MODULE: ./src/build/tags.ts
/**
 * Tags from git: `sha` (short commit), `ref` (branch or tag name, made tag-safe), `semver`
 * (1.2.3, 1.2, 1 from a v1.2.3 tag), `latest` (default branch only), or literal tags that
 * may contain `{{sha}}` / `{{ref}}` placeholders.
 */

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TEMPLATES = ['sha', 'ref', 'semver', 'latest'];
const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
/** A ref name as a valid tag: invalid characters become '-', at most 128. */
function tagSafe(name) {
    const t = name
        .replace(/[^A-Za-z0-9_.-]+/g, '-')
        .replace(/^[.-]+/, '')
        .slice(0, 128);
    return t || 'ref';
}
function refName(ref) {
    if (ref.startsWith('refs/heads/'))
        return { kind: 'branch', name: ref.slice(11) };
    if (ref.startsWith('refs/tags/'))
        return { kind: 'tag', name: ref.slice(10) };
    const pr = /^refs\/pull\/(\d+)\//.exec(ref);
    if (pr)
        return { kind: 'pull', name: `pr-${pr[1]}` };
    return { kind: 'other', name: ref };
}
/** Validate the `tags` lines (templates and literals) before anything runs. */
function parseTagSpecs(raw) {
    const lines = raw
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
    if (!lines.length)
        throw new ParseError('names no tag');
    for (const l of lines) {
        for (const m of l.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
            if (!['sha', 'ref'].includes(m[1]))
                throw new ParseError(`'${l}': unknown template '{{${m[1]}}}'; use {{sha}} or {{ref}} inside a tag, or a line sha, ref, semver or latest`);
        }
        if (TEMPLATES.includes(l))
            continue;
        const probe = l.replace(/\{\{\s*(sha|ref)\s*\}\}/g, 'x');
        if (!TAG.test(probe))
            throw new ParseError(`'${l}' is not a valid tag (letters, digits, _ . -; at most 128; not starting with . or -)`);
    }
    return lines;
}
/** The concrete tags for a git context (templates that do not apply are skipped). */
function resolveTags(specs, git) {
    const short = git.sha.slice(0, 7);
    const r = refName(git.ref);
    const sem = r.kind === 'tag' ? SEMVER.exec(r.name) : null;
    const out = [];
    for (const s of specs) {
        if (s === 'sha') {
            if (short)
                out.push(`sha-${short}`);
        }
        else if (s === 'ref') {
            if (r.name)
                out.push(tagSafe(r.name));
        }
        else if (s === 'semver') {
            if (sem) {
                const [, maj, min, pat, pre] = sem;
                out.push(pre ? `${maj}.${min}.${pat}-${pre}` : `${maj}.${min}.${pat}`);
                // Floating tags only for releases, never for pre-releases.
                if (!pre)
                    out.push(`${maj}.${min}`, maj);
            }
        }
        else if (s === 'latest') {
            if (r.kind === 'branch' && r.name === git.defaultBranch)
                out.push('latest');
        }
        else {
            out.push(s.replace(/\{\{\s*sha\s*\}\}/g, short).replace(/\{\{\s*ref\s*\}\}/g, tagSafe(r.name)));
        }
    }
    const tags = [...new Set(out)];
    const version = sem ? `${sem[1]}.${sem[2]}.${sem[3]}${sem[4] ? `-${sem[4]}` : ''}` : r.kind === 'branch' || r.kind === 'pull' ? tagSafe(r.name) : short;
    return { tags, version };
}

;// CONCATENATED MODULE: ./src/inputs/common.ts

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const NAME_HINT = 'use letters, digits, dot, dash or underscore (at most 63), starting with a letter or digit';
/** `app` and `environment`: they name the app directory on the hosts, so they are strict. */
const appSchema = {
    app: f.string({ required: true, pattern: NAME, hint: NAME_HINT }),
    environment: f.string({ default: 'production', pattern: NAME, hint: NAME_HINT }),
};
/** An image reference: lowercase repository path, optional registry host:port, tag or digest. */
const IMAGE_REF = /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
/**
 * An image reference with its repository (registry host and path) in lowercase, as
 * registries require; the tag and digest are kept as given (tags are case-sensitive).
 * `ghcr.io/${{ github.repository }}` has the owner's capitals.
 */
function lowercaseRepository(ref) {
    const at = ref.indexOf('@');
    const name = at < 0 ? ref : ref.slice(0, at);
    const digest = at < 0 ? '' : ref.slice(at);
    const colon = name.lastIndexOf(':');
    const tagAt = colon > name.lastIndexOf('/') ? colon : -1;
    return tagAt < 0 ? name.toLowerCase() + digest : name.slice(0, tagAt).toLowerCase() + name.slice(tagAt) + digest;
}
/**
 * The values in an env file that are masked: every value of 3 characters or more, except
 * the ones that cannot be secrets and would blank out every log line that has them
 * (true/false/yes/no/on/off/null and whole numbers of up to 5 digits: ports, counts).
 */
function envFileSecrets(text) {
    const out = [];
    for (const line of text.split(/\r?\n/)) {
        const m = /^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=\s*(.*?)\s*$/.exec(line);
        if (!m)
            continue;
        const raw = m[1];
        // Quoted: the value inside the quotes; unquoted: also without an inline ` # comment`
        // (compose strips it), so both forms are masked.
        const quoted = /^(['"])(.*)\1$/.exec(raw);
        const values = quoted ? [quoted[2]] : [raw, raw.replace(/\s+#.*$/, '')];
        for (const value of new Set(values)) {
            if (value.length < 3)
                continue;
            if (/^(true|false|yes|no|on|off|null|none)$/i.test(value) || /^\d{1,5}$/.test(value))
                continue;
            out.push(value);
        }
    }
    return out;
}

;// CONCATENATED MODULE: ./src/flows/build-push-inputs.ts
/** The build-push action's inputs, checked and turned into a BuildPushConfig (every problem reported at once). */






function defaultBranch() {
    try {
        const ev = JSON.parse((0,external_node_fs_namespaceObject.readFileSync)(process.env.GITHUB_EVENT_PATH ?? '', 'utf8'));
        return ev.repository?.default_branch ?? 'main';
    }
    catch {
        return 'main';
    }
}
function prepareBuildPush(v, problems, c) {
    for (const val of [...Object.values(v['build-args'] ?? {}), ...Object.values(v.secrets ?? {})])
        c.mask(val);
    for (const name of Object.keys(v['build-args'] ?? {}).filter(reservedBuildArg)) {
        problems.push({ input: 'build-args', message: `${name} would change the docker CLI's own environment (build-arg values reach docker through it); rename the build argument` });
    }
    const ws = c.workspace;
    const context = external_node_path_default().resolve(ws, v.context ?? '.');
    const file = external_node_path_default().resolve(ws, v.file || external_node_path_default().join(v.context ?? '.', 'Dockerfile'));
    if (v.context !== undefined && !(0,external_node_fs_namespaceObject.existsSync)(context))
        problems.push({ input: 'context', message: `'${v.context}' does not exist in the workspace` });
    else if (!(0,external_node_fs_namespaceObject.existsSync)(file))
        problems.push({ input: 'file', message: `${external_node_path_default().relative(ws, file) || file} does not exist; set 'file' or add a Dockerfile to the context` });
    const secretFiles = {};
    for (const [id, f] of Object.entries(v['secret-files'] ?? {})) {
        const p = external_node_path_default().resolve(ws, f.trim());
        if (!(0,external_node_fs_namespaceObject.existsSync)(p))
            problems.push({ input: 'secret-files', message: `${id}: '${f.trim()}' does not exist` });
        secretFiles[id] = p;
    }
    const dupes = Object.keys(secretFiles).filter((id) => id in (v.secrets ?? {}));
    if (dupes.length)
        problems.push({ input: 'secret-files', message: `secret id ${dupes.join(', ')} is also in 'secrets'` });
    if (problems.length)
        return undefined;
    const image = lowercaseRepository(v.image);
    if (image !== v.image)
        c.logger.info(`image ${v.image} is pushed as ${image} (registries take lowercase repository names)`);
    const isGhcr = (v.registry || image.split('/')[0]) === 'ghcr.io';
    const { tags, version } = resolveTags(v.tags, { sha: c.sha, ref: c.ref, defaultBranch: defaultBranch() });
    if (!tags.length) {
        problems.push({ input: 'tags', message: `gives no tag for ${c.ref || 'this ref'} (e.g. semver only applies to v1.2.3 tags); add sha or a literal tag` });
        return undefined;
    }
    const server = process.env.GITHUB_SERVER_URL ?? 'https://github.com';
    return {
        image,
        registry: v.registry,
        username: v.username || (isGhcr ? c.actor : undefined),
        password: v.password || (isGhcr ? v['github-token'] : undefined),
        context,
        file,
        refs: tags.map((t) => `${image}:${t}`),
        tags,
        labels: {
            'org.opencontainers.image.source': c.repository ? `${server}/${c.repository}` : '',
            'org.opencontainers.image.revision': c.sha,
            'org.opencontainers.image.created': new Date().toISOString(),
            'org.opencontainers.image.version': version,
            ...v.labels,
        },
        buildArgs: v['build-args'],
        secrets: v.secrets,
        secretFiles,
        target: v.target,
        platforms: v.platforms,
        network: v.network === 'default' ? undefined : v.network,
        push: v.push,
        cache: v.cache,
        builder: v.builder,
        tempDir: process.env.RUNNER_TEMP || external_node_os_default().tmpdir(),
    };
}

;// CONCATENATED MODULE: ./src/report/markdown.ts
/** Markdown for job summaries. User data is escaped: it can never become markup or HTML. */
function esc(text) {
    // A zero-width space after @: text from hosts never mentions a user or team (summaries end up in issues).
    return text
        .replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`)
        .replace(/@/g, '@\u200b')
        .replace(/\r?\n/g, ' ');
}
/** Inline code that cannot be broken out of (backticks inside are replaced). */
function code(text) {
    const t = text.replace(/`/g, 'ʼ').replace(/\r?\n/g, ' ');
    return t === '' ? '' : `\`${t}\``;
}
function table(headers, rows) {
    const head = `| ${headers.join(' | ')} |`;
    const sep = `| ${headers.map(() => '---').join(' | ')} |`;
    return [head, sep, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}
/** A fenced block whose fence is longer than any backtick run inside. */
function fenced(text, lang = '') {
    const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
    const fence = '`'.repeat(longest + 1);
    return `${fence}${lang}\n${text}\n${fence}\n`;
}
const STATUS_ICON = {
    succeeded: '✅ succeeded',
    failed: '❌ failed',
    skipped: '⏭️ skipped',
};

;// CONCATENATED MODULE: ./src/report/build.ts
/** build-push's job summary and outputs. */


function buildOutputs(cfg, r) {
    return {
        'image-id': r.imageId,
        tags: cfg.refs.join('\n'),
        digest: r.digest,
        'image-ref': r.digest ? `${cfg.image}@${r.digest}` : '',
        'size-bytes': r.size,
        'cached-steps': r.cachedSteps,
        builder: r.builder,
    };
}
function buildSummary(cfg, r) {
    return [
        `## Image ${code(cfg.image)}: ${cfg.push ? 'built and pushed' : 'built (not pushed)'}`,
        '',
        table(['', ''], [
            ['digest', r.digest ? code(r.digest) : '(not pushed)'],
            ['tags', cfg.refs.map(code).join('<br>')],
            ['size', `${(r.size / 1024 / 1024).toFixed(1)} MiB`],
            ['built with', code(r.builder)],
            ['build time', formatDuration(r.buildMs)],
            ['cache', r.cacheFrom.length ? `${r.cachedSteps} step(s) reused from ${r.cacheFrom.map(code).join(', ')}` : `${r.cachedSteps} step(s) reused`],
        ]),
    ].join('\n');
}

;// CONCATENATED MODULE: ./src/schemas/build-push.ts



/** A repository name without tag or digest: lowercase path, optional registry host:port. */
// Capitals are accepted (ghcr.io/${{ github.repository }} has the owner's) and lowercased by the action.
const IMAGE_NAME = /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/i;
function keyValues(what) {
    return (raw) => {
        const out = {};
        for (const line of raw.split('\n').filter((l) => l.trim())) {
            const eq = line.indexOf('=');
            const k = eq > 0 ? line.slice(0, eq).trim() : '';
            if (!k || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k))
                throw new ParseError(`a line is not ${what}=value`);
            out[k] = line.slice(eq + 1);
        }
        return out;
    };
}
/** The inputs of the build-push action (see action.yml). */
const schema = {
    image: f.string({ required: true, pattern: IMAGE_NAME, hint: 'use a repository name without tag, e.g. ghcr.io/acme/shop' }),
    context: f.string({ default: '.' }),
    file: f.optionalString(),
    tags: f.custom(parseTagSpecs, { default: ['sha', 'ref', 'semver', 'latest'] }),
    'build-args': f.custom(keyValues('KEY'), { default: {}, secret: true }),
    labels: f.custom(keyValues('label'), { default: {} }),
    target: f.optionalString(),
    push: f.bool({ default: true }),
    registry: f.optionalString(),
    username: f.optionalString(),
    password: f.optionalString({ secret: true }),
    'github-token': f.optionalString({ secret: true }),
    platforms: f.list(),
    cache: f.bool({ default: true }),
    secrets: f.custom(keyValues('id'), { default: {}, secret: true }),
    'secret-files': f.custom(keyValues('id'), { default: {} }),
    builder: f.enumOf(['auto', 'buildx', 'docker'], { default: 'auto' }),
    network: f.enumOf(['default', 'none', 'host'], { default: 'default' }),
};

;// CONCATENATED MODULE: ./actions/build-push/index.ts







async function main(ctx) {
    const { values: v, problems } = collectInputs(schema, ctx.inputs);
    const cfg = prepareBuildPush(v, problems, { ...ctx.run, logger: ctx.logger, mask: ctx.inputs.mask });
    if (!cfg)
        throw new InputError(problems);
    const r = await buildPush(cfg, ctx.logger).catch((e) => {
        throw e instanceof BuildInputError ? new InputError([{ input: e.input, message: e.message }]) : e;
    });
    for (const [k, val] of Object.entries(buildOutputs(cfg, r)))
        ctx.setOutput(k, val);
    await ctx.summary(buildSummary(cfg, r));
    ctx.logger.info(r.digest ? `${cfg.image}@${r.digest}` : `built ${r.imageId}`);
}
runAction(main);

