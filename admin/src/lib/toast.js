// Toast notifications: toast.success('Saved'), toast.error(errOrText).
// ToastHost (mounted once in App.vue) renders them.
import { reactive } from 'vue'
import { errorMessage } from './api.js'

export const toasts = reactive([])
let seq = 0

function push(kind, message, ms) {
  const id = ++seq
  toasts.push({ id, kind, message })
  if (ms > 0) setTimeout(() => dismiss(id), ms)
  return id
}

export function dismiss(id) {
  const i = toasts.findIndex((t) => t.id === id)
  if (i >= 0) toasts.splice(i, 1)
}

export const toast = {
  success: (msg) => push('success', msg, 3500),
  info: (msg) => push('info', msg, 3500),
  error: (e) => push('error', typeof e === 'string' ? e : errorMessage(e), 7000),
}
