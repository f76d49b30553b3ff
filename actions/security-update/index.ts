import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { pendingAction } from '../../src/action/pending.js';
import { schema } from '../../src/schemas/security-update.js';

runAction((ctx) => pendingAction(ctx, 'security-update', schema, { ssh: true }));
