// Auth store: the signed-in user and the instance name, shared by every page.
import { reactive } from 'vue'
import { api, tokens, ApiError } from './api.js'

export const auth = reactive({
  user: null, // {id, email, is_admin, created_at}
  instanceName: 'TinyBase',
  loaded: false,
  get isAdmin() { return !!(this.user && this.user.is_admin) },
  get signedIn() { return !!this.user },
})

/** loadInstance reads the instance name (public). */
export async function loadInstance() {
  try {
    const r = await api.get('/api/auth/instance-info', null, { auth: false })
    if (r && r.instance_name) auth.instanceName = r.instance_name
  } catch { /* keep the default */ }
}

/** loadUser fetches /api/auth/me when a token is stored; null when signed out. */
export async function loadUser() {
  if (!tokens.access) {
    auth.user = null
    auth.loaded = true
    return null
  }
  try {
    auth.user = await api.get('/api/auth/me')
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) tokens.clear()
    auth.user = null
  }
  auth.loaded = true
  return auth.user
}

/** login signs in and stores the token pair. Throws ApiError. */
export async function login(email, password) {
  const r = await api.post('/api/auth/login', { email, password }, { auth: false })
  tokens.set(r)
  auth.user = { id: r.user_id, email: r.email, is_admin: r.is_admin }
  await loadUser()
  return r
}

/** logout ends every session of the user on the server and forgets the tokens. */
export async function logout() {
  try {
    if (tokens.access) await api.post('/api/auth/logout', {}, { auth: false, headers: { Authorization: `Bearer ${tokens.access}` } })
  } catch { /* the tokens go anyway */ }
  tokens.clear()
  auth.user = null
}
