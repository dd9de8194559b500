import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import tailwindcss from '@tailwindcss/vite'

// The bundle is served by the Go binary at /admin and, unchanged, at /auth.
// base makes every asset URL absolute (/admin/assets/…), so the same
// index.html works under both prefixes and at any deep link.
export default defineConfig({
  base: '/admin/',
  plugins: [vue(), tailwindcss()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 300,
  },
  server: {
    // `npm run dev` proxies the API to a running tinybase (TB_API, default :8000).
    proxy: {
      '/api': process.env.TB_API || 'http://127.0.0.1:8000',
    },
  },
})
