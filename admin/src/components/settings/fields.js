// The runtime settings the Settings page shows, by dotted key and section
// (docs/settings.md). Keys the server answers that are not listed here
// still appear, under "Other".

export const SECTIONS = [
  {
    id: 'general', title: 'General', fields: [
      { key: 'core.instance_name', label: 'Instance name', type: 'string', max: 100, hint: 'Shown in the header, emails and the auth portal.' },
      { key: 'core.server_timezone', label: 'Server time zone', type: 'timezone', hint: 'An IANA zone; Local is refused.' },
    ],
  },
  {
    id: 'auth', title: 'Authentication', fields: [
      { key: 'core.auth.allow_public_registration', label: 'Allow public registration', type: 'bool', hint: 'When off, POST /api/auth/register answers 403; admins can still create users.' },
    ],
  },
  {
    id: 'portal', title: 'Auth portal', intro: 'The branded sign-in pages under /auth. When enabled, both redirect URLs are required.', fields: [
      { key: 'core.auth.portal.enabled', label: 'Enable the auth portal', type: 'bool' },
      { key: 'core.auth.portal.logo_url', label: 'Logo URL', type: 'url', max: 500 },
      { key: 'core.auth.portal.primary_color', label: 'Primary colour', type: 'color', hint: '#rgb or #rrggbb, empty for the default.' },
      { key: 'core.auth.portal.background_image_url', label: 'Background image URL', type: 'url' },
      { key: 'core.auth.portal.login_redirect_url', label: 'After sign-in, go to', type: 'url', hint: 'An absolute http(s) URL of your application (not /admin).' },
      { key: 'core.auth.portal.register_redirect_url', label: 'After registration, go to', type: 'url', hint: 'An absolute http(s) URL of your application (not /admin).' },
    ],
  },
  {
    id: 'functions', title: 'Functions & scheduler', fields: [
      { key: 'core.scheduler.function_timeout_seconds', label: 'Function timeout (seconds)', type: 'int', min: 1, max: 86400, hint: 'The execution limit of every call; applies to the next call, on every worker.', resettable: true },
      { key: 'core.limits.max_concurrent_functions_per_user', label: 'Concurrent calls per user', type: 'int', min: 1, max: 100000, resettable: true },
      { key: 'core.jobs.admin_report.enabled', label: 'Admin report job', type: 'bool' },
    ],
  },
  {
    id: 'activity', title: 'Activity log', fields: [
      { key: 'core.activity.retention_days', label: 'Keep entries for (days)', type: 'int', min: 0, max: 3650, hint: '0 keeps everything; older entries are pruned now and then.' },
    ],
  },
  {
    id: 'storage', title: 'File storage (S3-compatible)', intro: 'When enabled, endpoint and bucket are required.', fields: [
      { key: 'core.storage.enabled', label: 'Enable storage', type: 'bool' },
      { key: 'core.storage.endpoint', label: 'Endpoint', type: 'url', hint: 'e.g. https://s3.eu-central-1.amazonaws.com' },
      { key: 'core.storage.bucket', label: 'Bucket', type: 'string', max: 100 },
      { key: 'core.storage.region', label: 'Region', type: 'string', max: 50 },
      { key: 'core.storage.access_key', label: 'Access key', type: 'secret', max: 200, hint: 'Write-only: never shown again. Leave empty to keep the stored one.' },
      { key: 'core.storage.secret_key', label: 'Secret key', type: 'secret', max: 200, hint: 'Write-only: never shown again. Leave empty to keep the stored one.' },
    ],
  },
]

export const KNOWN = new Set(SECTIONS.flatMap((s) => s.fields.map((f) => f.key)))
