// What pkg/collections accepts in a schema (docs/collections.md), for the
// visual editor and the record forms.

export const FIELD_TYPES = [
  { value: 'string', label: 'Text (string)' },
  { value: 'integer', label: 'Integer' },
  { value: 'number', label: 'Number' },
  { value: 'boolean', label: 'Boolean' },
  { value: 'date', label: 'Date' },
  { value: 'datetime', label: 'Date and time' },
  { value: 'reference', label: 'Reference to a record' },
  { value: 'list[string]', label: 'List of text' },
  { value: 'list[integer]', label: 'List of integers' },
  { value: 'list[number]', label: 'List of numbers' },
  { value: 'list[boolean]', label: 'List of booleans' },
  { value: 'array', label: 'Array (any items)' },
  { value: 'object', label: 'Object (JSON)' },
]

const ALIASES = { int: 'integer', float: 'number', bool: 'boolean', list: 'array', dict: 'object' }

/** canonicalType maps aliases (int, float, list[int], array[str]…) to the names above. */
export function canonicalType(t) {
  let s = String(t || 'string').trim().toLowerCase()
  if (ALIASES[s]) return ALIASES[s]
  const m = /^(list|array)\[(\w+)\]$/.exec(s)
  if (m) s = `list[${ALIASES[m[2]] || m[2]}]`
  return s
}

export const isNumeric = (t) => t === 'integer' || t === 'number'
export const isList = (t) => t === 'array' || t.startsWith('list[')
export const hasLength = (t) => t === 'string' || isList(t)
export const hasPattern = (t) => ['string', 'date', 'datetime', 'reference'].includes(t)
export const isScalar = (t) => !isList(t) && t !== 'object'

export const ACCESS_ACTIONS = [
  { key: 'list', label: 'List records', def: 'public' },
  { key: 'read', label: 'Read a record', def: 'public' },
  { key: 'create', label: 'Create', def: 'auth' },
  { key: 'update', label: 'Update', def: 'owner' },
  { key: 'delete', label: 'Delete', def: 'owner' },
]
export const ACCESS_RULES = [
  { value: 'public', label: 'Everyone' },
  { value: 'auth', label: 'Signed-in users' },
  { value: 'owner', label: 'The record owner' },
  { value: 'admin', label: 'Admins only' },
]
