// Schedule specifications: building them from form fields, reading them
// back, and describing them in a line.

export const UNITS = ['seconds', 'minutes', 'hours', 'days']

/** timeZones lists the IANA zones the browser knows, UTC first. */
export function timeZones() {
  let list = []
  try { list = Intl.supportedValuesOf('timeZone') } catch { list = [] }
  const out = ['UTC', ...list.filter((z) => z !== 'UTC')]
  return out
}

/** browserZone is the browser's own zone, the default for new schedules. */
export function browserZone() {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' } catch { return 'UTC' }
}

/** fromSpec turns a stored specification into form fields. */
export function fromSpec(s) {
  const f = { kind: 'cron', cron: '', description: '', unit: 'minutes', value: 15, date: '', time: '', timezone: 'UTC' }
  if (!s || typeof s !== 'object') return f
  f.kind = ['once', 'interval', 'cron'].includes(s.method) ? s.method : 'cron'
  f.timezone = s.timezone || 'UTC'
  f.cron = s.cron || ''
  f.description = s.description || ''
  f.unit = s.unit || 'minutes'
  f.value = s.value ?? 15
  f.date = s.date || s.run_date || ''
  f.time = (s.time || s.run_time || '').slice(0, 8)
  return f
}

/** toSpec builds the specification the API takes from form fields. */
export function toSpec(f) {
  const tz = f.timezone || 'UTC'
  if (f.kind === 'once') return { method: 'once', date: f.date, time: f.time, timezone: tz }
  if (f.kind === 'interval') {
    const n = Number(f.value)
    return { method: 'interval', unit: f.unit, value: Number.isFinite(n) && String(f.value).trim() !== '' ? n : f.value, timezone: tz }
  }
  const s = { method: 'cron', cron: (f.cron || '').trim(), timezone: tz }
  if (f.description && f.description.trim()) s.description = f.description.trim()
  return s
}

/** summary describes a specification in one line. */
export function summary(s) {
  if (!s || typeof s !== 'object') return '—'
  const tz = s.timezone && s.timezone !== 'UTC' ? ` (${s.timezone})` : ''
  if (s.method === 'interval') return `Every ${s.value} ${s.value === 1 ? String(s.unit).replace(/s$/, '') : s.unit}`
  if (s.method === 'once') return `Once: ${s.date || s.run_date} ${s.time || s.run_time}${tz}`
  if (s.method === 'cron') return `Cron: ${s.cron}${tz}${s.description ? ` — ${s.description}` : ''}`
  return JSON.stringify(s)
}

/** inZone formats an instant as wall-clock time in a zone. */
export function inZone(iso, tz) {
  try {
    return new Intl.DateTimeFormat(undefined, { timeZone: tz || 'UTC', weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' }).format(new Date(iso))
  } catch {
    return iso
  }
}

export const CRON_EXAMPLES = [
  ['*/5 * * * *', 'every 5 minutes'],
  ['0 * * * *', 'hourly'],
  ['0 2 * * *', 'daily at 02:00'],
  ['0 9 * * MON-FRI', 'weekdays at 09:00'],
  ['0 0 1 * *', 'monthly'],
]
