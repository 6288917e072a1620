// The server's API as the page uses it: JSON in and out, the session cookie, and the CSRF token
// (from login or /auth/me) on every request that changes something.
let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.field = body?.field ?? null;
  }
}

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = { message: text };
  }
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

export async function me() {
  const r = await call('GET', '/api/v1/auth/me');
  csrfToken = r.csrfToken;
  return r.user;
}

export async function login(username, password) {
  const r = await call('POST', '/api/v1/auth/login', { username, password });
  csrfToken = r.csrfToken;
  return r.user;
}

export async function logout() {
  await call('POST', '/api/v1/auth/logout');
  csrfToken = null;
}

export const submit = (mode, request) => call('POST', `/api/v1/pcap/${mode}`, request);
export const jobs = () => call('GET', '/api/v1/pcap/jobs');
export const status = (id) => call('GET', `/api/v1/pcap/${encodeURIComponent(id)}`);
export const kill = (id) => call('DELETE', `/api/v1/pcap/kill/${encodeURIComponent(id)}`);
export const pdml = (id, page) => call('GET', `/api/v1/pcap/${encodeURIComponent(id)}/pdml?page=${page}`);
export const rawUrl = (id, page) => `/api/v1/pcap/${encodeURIComponent(id)}/raw?page=${page}`;
export const downloadUrl = (id) => `/api/v1/pcap/${encodeURIComponent(id)}/download`;

export async function rawPage(id, page) {
  const res = await fetch(rawUrl(id, page), { credentials: 'same-origin' });
  if (!res.ok) throw new ApiError(res.status, null);
  return new Uint8Array(await res.arrayBuffer());
}
