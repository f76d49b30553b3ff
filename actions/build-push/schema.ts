import { f } from '../../src/inputs/schema.js';
import { IMAGE_REF } from '../../src/inputs/common.js';

/** The inputs of the build-push action (its own ones; see action.yml). */
export const own = { image: f.string({ required: true, pattern: IMAGE_REF, hint: 'use a lowercase reference such as ghcr.io/acme/shop' }) };

export const schema = own;
