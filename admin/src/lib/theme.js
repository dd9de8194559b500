// Light/dark colour scheme, remembered in localStorage (index.html applies
// it before the first paint).
import { ref } from 'vue'

export const dark = ref(document.documentElement.classList.contains('dark'))

export function toggleDark() {
  dark.value = !dark.value
  document.documentElement.classList.toggle('dark', dark.value)
  try { localStorage.setItem('tb_theme', dark.value ? 'dark' : 'light') } catch { /* private mode */ }
}
