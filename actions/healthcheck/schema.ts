import { f } from '../../src/inputs/schema.js';

/** The inputs of the healthcheck action (see action.yml). */
export const schema = { url: f.list({ required: true, commas: false }) };
