// REST client: JSON in and out, `Authorization: Bearer`, the server's error shape
// (`{"error": {"code", "message"}}`) turned into an ApiError with the same stable codes
// the WebSocket uses.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export class Api {
  /** @param {() => string | null} getToken */
  constructor(getToken) {
    this.getToken = getToken;
  }

  get(path) {
    return this.request('GET', path);
  }

  post(path, body = {}) {
    return this.request('POST', path, body);
  }

  put(path, body = {}) {
    return this.request('PUT', path, body);
  }

  delete(path) {
    return this.request('DELETE', path);
  }

  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = this.getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(`/api${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError('offline', 'The server cannot be reached right now.');
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const error = data?.error;
      throw new ApiError(error?.code || 'internal', error?.message || response.statusText, response.status);
    }
    return data;
  }
}
