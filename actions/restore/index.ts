import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { pendingAction } from '../../src/action/pending.js';
import { schema } from '../../src/schemas/restore.js';

runAction((ctx) => pendingAction(ctx, 'restore', schema, { ssh: true }));
