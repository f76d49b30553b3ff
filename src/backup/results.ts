/** What a backup and a restore report (read by the flows' callers and the summaries). */
import type { Manifest } from './manifest.js';

export interface BackupResult {
  ok: boolean;
  manifest?: Manifest;
  location?: string;
  durationMs: number;
  deleted: string[];
  kept: { id: string; reasons: string[] }[];
  orphansRemoved: string[];
  warnings: string[];
  error?: string;
}

export interface Phase {
  name: string;
  ms: number;
  ok: boolean;
}

export interface RestoreResult {
  ok: boolean;
  manifest?: Manifest;
  phases: Phase[];
  durationMs: number;
  backupAgeS?: number;
  rtoMet?: boolean;
  rpoMet?: boolean;
  restored: boolean;
  error?: string;
}
