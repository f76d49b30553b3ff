import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { pendingAction } from '../../src/action/pending.js';
import { schema } from './schema.js';

runAction((ctx) => pendingAction(ctx, 'build-push', schema, { ssh: false }));
