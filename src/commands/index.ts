/**
 * Every remote operation as data: pure functions returning a `Command` (argument words, or
 * a constant sh`...` script with data only as positional parameters). Nothing here runs
 * anything; `src/host` executes them. Each builder's rendered text is pinned by a unit test.
 */
export * from './compose.js';
export * from './files.js';
export * from './history.js';
export * from './hooks.js';
export * from './lock.js';
export * from './releases.js';
export * from './host.js';
export * from './storage.js';
export * from './backup.js';
export * from './watchdog.js';
export * from './run.js';
export * from './host-checks.js';
export * from './proxy.js';
export * from './swarm.js';
