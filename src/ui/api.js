// The HTTP API, as the page calls it: the bearer token from sessionStorage (a tab's
// sign-in ends with the tab), JSON answers with big integers kept as their digits, and
// errors as ApiError carrying the server's catalog code and message.

const TOKEN_KEY = 'tributary.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** JSON.parse that keeps integers beyond 2^53 exact, as text (Chromium passes the source). */
export function parseJson(text) {
  return JSON.parse(text, (_key, value, context) => {
    if (
      typeof value === 'number' &&
      Number.isInteger(value) &&
      !Number.isSafeInteger(value) &&
      context?.source
    ) {
      return context.source;
    }
    return value;
  });
}

export function authHeaders() {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

let unauthorized = () => {};

/** Called with the error when the server answers 401 (the page then asks to sign in). */
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export function reportUnauthorized(err) {
  unauthorized(err);
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', `the server did not answer (${err.message})`);
  }
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : parseJson(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = new ApiError(
      res.status,
      json?.code ?? `HTTP_${res.status}`,
      json?.message ?? (text || res.statusText),
    );
    if (res.status === 401) unauthorized(err);
    throw err;
  }
  return json;
}

/** A query string from an object, leaving out undefined and empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
