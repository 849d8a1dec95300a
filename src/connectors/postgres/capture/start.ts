/**
 * Picking the capture mode: `createCapture('polling' | 'logical', options)`, from the
 * factories registered here (registry.ts).
 */
import { TributaryError } from '../../../core/errors.ts';
import { createLogicalCapture, type LogicalCaptureOptions } from './logical/index.ts';
import { PollingCapture, type PollingOptions } from './polling.ts';
import { type AnyCaptureOptions, captureFactory, registerCapture } from './registry.ts';
import type { CaptureMode, ChangeCapture } from './types.ts';

export type { AnyCaptureOptions } from './registry.ts';

registerCapture('polling', (o) => new PollingCapture(o as PollingOptions));
registerCapture('logical', (o) => createLogicalCapture(o as LogicalCaptureOptions));

export async function createCapture(mode: CaptureMode, options: AnyCaptureOptions): Promise<ChangeCapture> {
  const factory = captureFactory(mode);
  if (!factory) {
    throw new TributaryError(
      'CONFIG_INVALID',
      `capture mode '${mode}' is not available in this build of Tributary: use polling (source.capture.mode: polling, or --capture polling)`,
      { mode },
    );
  }
  return factory(options);
}
