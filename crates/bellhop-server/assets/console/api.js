// The JSON API as the console uses it: the key kept for this tab only, errors as
// exceptions carrying the API's own message, and uploads with progress.

const KEY_STORAGE = 'bellhop.console.key';

/** An error the API answered with (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The key signed in with: kept in sessionStorage, so it dies with the tab. */
export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE);
  },
  set key(value) {
    if (value === null) {
      sessionStorage.removeItem(KEY_STORAGE);
    } else {
      sessionStorage.setItem(KEY_STORAGE, value);
    }
  },
  get signedIn() {
    return this.key !== null;
  }
};

function authHeaders() {
  const key = session.key;
  // An empty key is a server without keys: send nothing rather than an empty bearer.
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: the status says enough.
  }
  const detail = body && body.error;
  return new ApiError(
    response.status,
    detail ? detail.code : 'http_error',
    detail ? detail.message : `the server answered ${response.status} ${response.statusText}`
  );
}

/** Sends a JSON request and returns the parsed answer (null for 204). */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json', ...authHeaders() };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'network', `the server could not be reached (${error.message})`);
  }
  if (!response.ok) {
    throw await errorFrom(response);
  }
  return response.status === 204 ? null : response.json();
}

/** A collection's path, its name escaped. */
export function collectionPath(name, rest = '') {
  return `/v1/collections/${encodeURIComponent(name)}${rest}`;
}

/**
 * Uploads one file to a collection with XMLHttpRequest, the one browser API that reports
 * upload progress; `onProgress` gets the fraction sent. Resolves with the upload report,
 * rejects with an ApiError.
 */
export function uploadFile(collection, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', collectionPath(collection, '/files'));
    for (const [name, value] of Object.entries(authHeaders())) {
      xhr.setRequestHeader(name, value);
    }
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.responseType = 'json';
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable) {
        onProgress(event.loaded / event.total);
      }
    });
    xhr.addEventListener('load', () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(body);
      } else {
        const detail = body && body.error;
        reject(new ApiError(
          xhr.status,
          detail ? detail.code : 'http_error',
          detail ? detail.message : `the server answered ${xhr.status}`
        ));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'the upload could not reach the server')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'the upload was cancelled')));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
