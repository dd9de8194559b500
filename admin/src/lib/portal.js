// Auth portal configuration: branding and where to go after sign-in.
import { reactive } from 'vue'
import { api } from './api.js'

export const portal = reactive({ loaded: false, preview: false, config: {} })

/** safeImageURL allows http(s) and same-origin paths only. */
export function safeImageURL(v) {
  if (!v || typeof v !== 'string') return null
  try {
    const u = new URL(v, location.origin)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null
  } catch {
    return null
  }
}

/** safeColor accepts what the browser parses as a colour. */
export function safeColor(v) {
  return v && typeof v === 'string' && typeof CSS !== 'undefined' && CSS.supports('color', v) ? v : null
}

/**
 * portalRedirect returns the configured redirect URL when it is an absolute
 * http(s) URL outside /admin (the server checks the same when it is saved);
 * the query string never chooses where a signed-in user goes.
 */
export function portalRedirect(kind) {
  const v = kind === 'register' ? portal.config.register_redirect_url : portal.config.login_redirect_url
  if (!v) return null
  try {
    const u = new URL(v)
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
    if (u.origin === location.origin && (u.pathname === '/admin' || u.pathname.startsWith('/admin/'))) return null
    return u.href
  } catch {
    return null
  }
}

/** loadPortal reads /api/auth/portal-config; with ?preview=true (admins, using the stored token) the look parameters of the query apply. */
export async function loadPortal(query) {
  const preview = query.preview === 'true'
  const q = {}
  if (preview) {
    q.preview = 'true'
    for (const k of ['logo_url', 'primary_color', 'background_image_url']) if (typeof query[k] === 'string') q[k] = query[k]
  }
  try {
    portal.config = await api.get('/api/auth/portal-config', q, { auth: preview })
    portal.preview = preview
  } catch {
    portal.config = portal.config || {}
    portal.preview = false
  }
  portal.loaded = true
}
