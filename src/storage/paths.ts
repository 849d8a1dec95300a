import { TributaryError } from '../core/errors.ts';

/** Checks an object path: relative, `/`-separated, no empty, `.` or `..` segments. */
export function checkPath(path: string): string {
  if (path === '' || path.startsWith('/') || path.includes('\\') || path.includes('\0')) {
    throw new TributaryError('STORAGE_INVALID_PATH', `invalid object path '${path}'`, { path });
  }
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new TributaryError(
        'STORAGE_INVALID_PATH',
        `invalid object path '${path}': empty, '.' or '..' segment`,
        { path },
      );
    }
  }
  return path;
}

export function notFound(url: string, path: string, cause?: unknown): TributaryError {
  return new TributaryError('STORAGE_NOT_FOUND', `no object '${path}' in ${url}`, { path, url }, cause);
}

export function alreadyExists(url: string, path: string): TributaryError {
  return new TributaryError('STORAGE_ALREADY_EXISTS', `object '${path}' already exists in ${url}`, {
    path,
    url,
  });
}
