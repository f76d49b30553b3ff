import '../../src/action/esm-shim.js';
import { runAction } from '../../src/action/runtime.js';
import { pendingAction } from '../../src/action/pending.js';
import { schema } from '../../src/schemas/backup.js';

runAction((ctx) => pendingAction(ctx, 'backup', schema, { ssh: true }));
