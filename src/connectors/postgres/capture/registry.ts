/**
 * The capture modes available, by name: each mode's module registers a factory here
 * (`registerCapture`), and start.ts creates captures from them. A module of its own, so
 * a mode's module can register without importing start.ts (which imports the modes).
 */
import type { PollingOptions } from './polling.ts';
import type { CaptureMode, CaptureOptions, ChangeCapture } from './types.ts';

/**
 * The options a capture is created with: the shared ones, and each mode's own (polling:
 * cursor, pollIntervalMs, batchLimit, delayMs; logical: slot, publication, snapshot,
 * heartbeat — a mode reads what it knows and ignores the rest).
 */
export type AnyCaptureOptions = CaptureOptions &
  Partial<Omit<PollingOptions, keyof CaptureOptions>> &
  Record<string, unknown>;

export type CaptureFactory = (options: AnyCaptureOptions) => ChangeCapture | Promise<ChangeCapture>;

const factories = new Map<CaptureMode, CaptureFactory>();

export function registerCapture(mode: CaptureMode, factory: CaptureFactory): void {
  factories.set(mode, factory);
}

export function captureFactory(mode: CaptureMode): CaptureFactory | undefined {
  return factories.get(mode);
}
