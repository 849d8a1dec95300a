// Server-sent events read with fetch, so the request can carry the bearer token
// (EventSource cannot send headers). Reconnects after the server ends a stream or the
// network drops it; a 401 goes to the sign-in page instead.
import { ApiError, authHeaders, parseJson, reportUnauthorized } from './api.js';

/**
 * Follows `path`: `onEvent(name, data)` for each event, `onState('live' | 'retrying')`
 * as the connection comes and goes, `onError(err)` when the server refuses the request
 * for good. Returns the function that stops following.
 */
export function follow(path, { onEvent, onState = () => {}, onError = () => {}, retryMs = 3000 }) {
  const abort = new AbortController();
  let stopped = false;

  async function once() {
    const res = await fetch(path, {
      headers: { accept: 'text/event-stream', ...authHeaders() },
      signal: abort.signal,
      cache: 'no-store',
    });
    if (!res.ok) {
      let body;
      try {
        body = parseJson(await res.text());
      } catch {
        body = undefined;
      }
      throw new ApiError(res.status, body?.code ?? `HTTP_${res.status}`, body?.message ?? res.statusText);
    }
    onState('live');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  function dispatch(frame) {
    let event = 'message';
    const data = [];
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length > 0) onEvent(event, parseJson(data.join('\n')));
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped || err.name === 'AbortError') return;
        if (err.status === 401) {
          reportUnauthorized(err);
          return;
        }
        // A request the server will refuse again (no such dashboard, a role too low).
        if (err.status >= 400 && err.status < 500 && err.status !== 429) {
          onError(err);
          return;
        }
      }
      if (stopped) return;
      onState('retrying');
      await new Promise((r) => setTimeout(r, retryMs));
    }
  })();

  return () => {
    stopped = true;
    abort.abort();
  };
}
