// Fetch wrapper for the TinyBase REST API.
//
// - Sends the access token from localStorage as a bearer token.
// - On a 401 it rotates the tokens once through POST /api/auth/refresh
//   (several requests failing together share one refresh) and retries;
//   if that fails the session is over: tokens are cleared and onSessionEnd
//   (set by main.js) sends the user to /admin/login?redirect=….
// - Errors become ApiError with the server's `detail`, `code` and a
//   field → message map built from `errors`.

const ACCESS = 'tb_access_token'
const REFRESH = 'tb_refresh_token'

export const tokens = {
  get access() { return localStorage.getItem(ACCESS) },
  get refresh() { return localStorage.getItem(REFRESH) },
  set(answer) {
    if (answer.access_token) localStorage.setItem(ACCESS, answer.access_token)
    if (answer.refresh_token) localStorage.setItem(REFRESH, answer.refresh_token)
  },
  clear() {
    localStorage.removeItem(ACCESS)
    localStorage.removeItem(REFRESH)
  },
}

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && typeof body.detail === 'string' && body.detail) || `Request failed (${status})`
    super(detail)
    this.status = status
    this.detail = detail
    this.code = body && body.code
    this.errors = (body && Array.isArray(body.errors)) ? body.errors : []
    // fields: {fieldName: message}; the first message per field wins.
    // List items (`tags[2]`) are also reported under the list's name.
    this.fields = {}
    for (const e of this.errors) {
      if (!e || !e.field) continue
      const msg = e.message || e.code || 'invalid'
      if (!(e.field in this.fields)) this.fields[e.field] = msg
      const base = e.field.replace(/\[\d+\]$/, '')
      if (!(base in this.fields)) this.fields[base] = `${e.field}: ${msg}`
    }
    this.body = body
  }
}

let onSessionEnd = () => {}
/** setSessionEndHandler registers what happens when the session cannot be renewed. */
export function setSessionEndHandler(fn) { onSessionEnd = fn }

let refreshing = null

/** refreshTokens rotates the token pair; it resolves to true on success. */
export function refreshTokens() {
  if (!refreshing) {
    refreshing = (async () => {
      const rt = tokens.refresh
      if (!rt) return false
      try {
        const r = await fetch('/api/auth/refresh', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: rt }),
        })
        if (!r.ok) return false
        tokens.set(await r.json())
        return true
      } catch {
        return false
      }
    })().finally(() => { setTimeout(() => { refreshing = null }, 0) })
  }
  return refreshing
}

function buildURL(path, query) {
  const url = new URL(path.startsWith('/') ? path : `/api/${path}`, location.origin)
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue
      url.searchParams.set(k, String(v))
    }
  }
  return url.pathname + url.search
}

/**
 * request calls the API. path is absolute ("/api/…") or relative to /api.
 * Options: method, body (JSON-encoded), query (object), auth (default true:
 * send the token and handle 401), headers, signal.
 * Resolves to the parsed JSON body (null for 204); rejects with ApiError.
 */
export async function request(path, opts = {}) {
  const { method = 'GET', body, query, auth = true, headers = {}, signal } = opts
  const url = buildURL(path, query)
  let used = null
  const send = async () => {
    const h = { Accept: 'application/json', ...headers }
    if (body !== undefined) h['Content-Type'] = 'application/json'
    used = auth ? tokens.access : null
    if (used) h.Authorization = `Bearer ${used}`
    return fetch(url, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal })
  }
  let r = await send()
  if (r.status === 401 && auth && tokens.access) {
    // Another request may have rotated the tokens while this one was in
    // flight: then the new token is tried before spending a refresh.
    if (tokens.access !== used) r = await send()
    if (r.status === 401 && (await refreshTokens())) {
      r = await send()
    }
    if (r.status === 401) {
      tokens.clear()
      onSessionEnd()
    }
  }
  if (r.status === 204) return null
  const text = await r.text()
  let data = null
  if (text) {
    try { data = JSON.parse(text) } catch { data = { detail: text } }
  }
  if (!r.ok) throw new ApiError(r.status, data)
  return data
}

export const api = {
  get: (path, query, opts) => request(path, { ...opts, query }),
  post: (path, body, opts) => request(path, { ...opts, method: 'POST', body: body ?? {} }),
  patch: (path, body, opts) => request(path, { ...opts, method: 'PATCH', body: body ?? {} }),
  put: (path, body, opts) => request(path, { ...opts, method: 'PUT', body: body ?? {} }),
  del: (path, opts) => request(path, { ...opts, method: 'DELETE' }),
}

/** errorMessage turns anything thrown into a sentence for a toast. */
export function errorMessage(e) {
  if (e instanceof ApiError) return e.detail
  if (e && e.name === 'AbortError') return 'Request cancelled'
  if (e instanceof TypeError) return 'Cannot reach the server'
  return (e && e.message) || String(e)
}

/** safeAdminRedirect returns the path to go to after sign-in: only
 * same-origin /admin paths (after URL normalisation) are honoured. */
export function safeAdminRedirect(target, fallback = '/admin') {
  if (typeof target !== 'string' || !target.startsWith('/') || target.startsWith('//') || target.includes('\\')) return fallback
  let u
  try { u = new URL(target, location.origin) } catch { return fallback }
  if (u.origin !== location.origin) return fallback
  if (u.pathname !== '/admin' && !u.pathname.startsWith('/admin/')) return fallback
  if (u.pathname.startsWith('/admin/login')) return fallback
  return u.pathname + u.search + u.hash
}
