import { createApp } from 'vue'
import App from './App.vue'
import { router } from './router.js'
import { setSessionEndHandler } from './lib/api.js'
import { auth, loadInstance } from './lib/auth.js'
import './style.css'

// When a token cannot be renewed, go to the sign-in page and come back after.
setSessionEndHandler(() => {
  auth.user = null
  const here = router.currentRoute.value
  if (here.meta.public) return
  router.push({ path: '/admin/login', query: { redirect: here.fullPath } })
})

loadInstance()
createApp(App).use(router).mount('#app')
