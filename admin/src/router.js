// Every route of the admin (/admin/…) and of the auth portal (/auth/…):
// the Go server hands the same index.html to both prefixes.
import { createRouter, createWebHistory } from 'vue-router'
import { auth, loadUser } from './lib/auth.js'
import { tokens } from './lib/api.js'
import { toast } from './lib/toast.js'

// Every page is its own lazily loaded chunk.
const pages = import.meta.glob('./pages/**/*.vue')
const page = (name) => pages[`./pages/${name}.vue`]

const routes = [
  { path: '/admin/login', name: 'login', component: page('Login'), meta: { public: true, bare: true, title: 'Sign in' } },
  { path: '/admin/setup', name: 'setup', component: page('Setup'), meta: { public: true, bare: true, title: 'Set up' } },
  { path: '/admin', name: 'dashboard', component: page('Dashboard'), meta: { title: 'Dashboard' } },
  { path: '/admin/collections', name: 'collections', component: page('Collections'), meta: { title: 'Collections' } },
  { path: '/admin/collections/new', name: 'collection-new', component: page('CollectionEditor'), meta: { admin: true, title: 'New collection' } },
  { path: '/admin/collections/:name', name: 'records', component: page('Records'), props: true, meta: { title: 'Records' } },
  { path: '/admin/collections/:name/schema', name: 'collection-schema', component: page('CollectionEditor'), props: true, meta: { admin: true, title: 'Schema' } },
  { path: '/admin/users', name: 'users', component: page('Users'), meta: { admin: true, title: 'Users' } },
  { path: '/admin/functions', name: 'functions', component: page('Functions'), meta: { title: 'Functions' } },
  { path: '/admin/functions/:name', name: 'function', component: page('Functions'), props: true, meta: { title: 'Function' } },
  { path: '/admin/function-calls', name: 'function-calls', component: page('FunctionCalls'), meta: { admin: true, title: 'Function calls' } },
  { path: '/admin/function-calls/:id', name: 'function-call', component: page('FunctionCalls'), props: true, meta: { admin: true, title: 'Function call' } },
  { path: '/admin/schedules', name: 'schedules', component: page('Schedules'), meta: { admin: true, title: 'Schedules' } },
  { path: '/admin/workers', name: 'workers', component: page('Workers'), meta: { admin: true, title: 'Workers' } },
  { path: '/admin/extensions', name: 'extensions', component: page('Extensions'), meta: { admin: true, title: 'Extensions' } },
  { path: '/admin/settings', name: 'settings', component: page('Settings'), meta: { admin: true, title: 'Settings' } },
  { path: '/admin/profile', name: 'profile', component: page('Profile'), meta: { title: 'Profile' } },
  { path: '/admin/:rest(.*)*', name: 'admin-not-found', component: page('NotFound'), meta: { title: 'Not found' } },

  { path: '/auth', redirect: '/auth/login' },
  { path: '/auth/login', name: 'portal-login', component: page('portal/PortalLogin'), meta: { public: true, bare: true, title: 'Sign in' } },
  { path: '/auth/register', name: 'portal-register', component: page('portal/PortalRegister'), meta: { public: true, bare: true, title: 'Create account' } },
  { path: '/auth/password-reset', name: 'portal-reset', component: page('portal/PortalReset'), meta: { public: true, bare: true, title: 'Reset password' } },
  { path: '/auth/password-reset/:token', name: 'portal-reset-confirm', component: page('portal/PortalResetConfirm'), props: true, meta: { public: true, bare: true, title: 'Choose a new password' } },
  { path: '/:rest(.*)*', name: 'not-found', component: page('NotFound'), meta: { public: true, bare: true, title: 'Not found' } },
]

export const router = createRouter({
  history: createWebHistory('/'),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!tokens.access) return { path: '/admin/login', query: { redirect: to.fullPath } }
  if (!auth.loaded || !auth.user) await loadUser()
  if (!auth.user) return { path: '/admin/login', query: { redirect: to.fullPath } }
  if (to.meta.admin && !auth.isAdmin) {
    toast.info(`${to.meta.title || 'That page'} is for admins only; you are signed in as ${auth.user.email}.`)
    return { path: '/admin' }
  }
  return true
})

router.afterEach((to) => {
  document.title = `${to.meta.title ? `${to.meta.title} · ` : ''}${auth.instanceName}`
})
