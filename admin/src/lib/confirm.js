// Imperative confirmation: `if (await confirm({title, message, confirmLabel, danger})) …`.
// The ConfirmHost in App.vue shows a ConfirmDialog for the pending question.
import { reactive } from 'vue'

export const pending = reactive({ open: false, title: '', message: '', confirmLabel: 'Confirm', danger: false, resolve: null })

export function confirm(opts) {
  if (pending.resolve) pending.resolve(false)
  return new Promise((resolve) => {
    Object.assign(pending, { title: 'Are you sure?', message: '', confirmLabel: 'Confirm', danger: false }, opts, { open: true, resolve })
  })
}

export function answer(ok) {
  const r = pending.resolve
  pending.open = false
  pending.resolve = null
  if (r) r(ok)
}
