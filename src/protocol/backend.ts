/**
 * Which tfjs backend the engine runs on: the names, what a front end may ask for, and what the
 * engine reports back. Shared by the engine, the CLI and the extension, so declared here rather
 * than next to the selection code (which loads tfjs).
 */

/** Backends in order of preference, best first. */
export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** A backend by name, or `auto` for the best one that starts. */
export type BackendRequest = BackendName | 'auto';

export interface BackendReport {
  /** The backend in use. */
  name: BackendName;
  /** tfjs's own name for it (`tensorflow`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Why each better backend was not used. */
  skipped: { name: BackendName; reason: string }[];
  /** Extra facts: wasm SIMD, project kernels, native addon, devices. */
  details: string[];
}

export function isBackendName(s: string): s is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(s);
}

export function isBackendRequest(s: string): s is BackendRequest {
  return s === 'auto' || isBackendName(s);
}
