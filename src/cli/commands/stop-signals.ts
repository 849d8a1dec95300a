/**
 * SIGINT (Ctrl-C) and SIGTERM as a request to stop cleanly, for the commands that run
 * until stopped (run, demo, generate, consume).
 *
 * The same request often arrives twice within milliseconds: Ctrl-C reaches every process
 * of the terminal's foreground group, and a service manager (systemd's default
 * KillMode=control-group, `kill -TERM -PGID`) signals every process of the service — and
 * when an older Node.js started `tributary`, the launcher in bin/tributary.js forwards the
 * signal it got to the process it started. So a repeat within DUPLICATE_WINDOW_MS of the
 * first signal is the same request and is ignored; a repeat after that is a second
 * request, to stop at once: the process ends by that signal, as if it had no handler.
 */

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** How long after the first stop signal a repeat counts as the same request. */
export const DUPLICATE_WINDOW_MS = 1000;

/**
 * Calls `onStop` on the first SIGINT or SIGTERM (once). Returns the function that removes
 * the handlers again (call it when the command is done).
 */
export function onStopSignals(onStop: (signal: NodeJS.Signals) => void): () => void {
  let firstAt: number | undefined;
  const off = () => {
    for (const s of STOP_SIGNALS) process.off(s, handler);
  };
  // Once stopping, the duplicate may still be on its way when the command is done: keep
  // ignoring it until the window has passed (the timer does not keep the process alive).
  const remove = () => {
    const left = firstAt === undefined ? 0 : DUPLICATE_WINDOW_MS - (performance.now() - firstAt);
    if (left <= 0) off();
    else setTimeout(off, left).unref();
  };
  function handler(signal: NodeJS.Signals): void {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      onStop(signal);
      return;
    }
    if (now - firstAt < DUPLICATE_WINDOW_MS) return;
    // With no listener left, Node.js restores the default action: the signal ends the process.
    off();
    process.kill(process.pid, signal);
  }
  for (const s of STOP_SIGNALS) process.on(s, handler);
  return remove;
}
