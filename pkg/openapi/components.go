package openapi

// timestamp is the one time format TinyBase serves.
func timestamp() obj {
	return desc(strf("date-time"), "RFC 3339 in UTC with microseconds")
}

// schemas are the shared response and request shapes, named as in
// docs/api.md.
func schemas() obj {
	user := obj{"id": strf("uuid"), "email": strf("email"), "is_admin": boolean(), "created_at": timestamp(),
		"updated_at": timestamp()}
	collection := obj{"id": strf("uuid"), "name": str(), "label": str(), "schema": ref("CollectionSchema"),
		"options": anyObject(), "created_at": timestamp(), "updated_at": timestamp()}
	record := obj{"id": strf("uuid"), "collection_id": strf("uuid"), "owner_id": nullable(strf("uuid")),
		"data": anyObject(), "created_at": timestamp(), "updated_at": timestamp()}
	call := obj{"id": strf("uuid"), "function_name": str(), "status": enum("running", "succeeded", "failed"),
		"trigger_type": enum("manual", "schedule"), "trigger_id": nullable(str()),
		"requested_by_user_id": nullable(strf("uuid")), "worker_id": nullable(str()), "attempts": integer(),
		"started_at": nullable(timestamp()), "finished_at": nullable(timestamp()),
		"duration_ms": nullable(integer()), "error_message": nullable(str()), "error_type": nullable(str()),
		"created_at": timestamp()}
	schedule := obj{"id": strf("uuid"), "name": str(), "function_name": str(), "schedule": ref("ScheduleSpec"),
		"input_data": anyObject(), "is_active": boolean(), "last_run_at": nullable(timestamp()),
		"next_run_at": nullable(timestamp()), "missed_runs": integer(), "last_missed_at": nullable(timestamp()),
		"created_by_user_id": nullable(strf("uuid")), "created_at": timestamp(), "updated_at": timestamp()}
	entry := obj{"id": integer(), "at": timestamp(), "kind": str(), "actor_id": nullable(str()),
		"subject": str(), "message": str(), "data": anyObject()}
	token := obj{"id": strf("uuid"), "name": str(), "description": nullable(str()), "scopes": arrayOf(str()),
		"user_id": strf("uuid"), "token_prefix": str(), "is_active": boolean(), "is_valid": boolean(),
		"created_at": timestamp(), "last_used_at": nullable(timestamp()), "expires_at": nullable(timestamp())}
	return obj{
		"Error": object(obj{
			"detail": desc(str(), "what went wrong, for people"),
			"code":   desc(str(), "a stable machine-readable code"),
			"errors": arrayOf(object(obj{"field": str(), "code": str(), "message": str()},
				"field", "code", "message")),
			"error_id": desc(str(), "500 only: the id of the server log line"),
		}, "detail"),
		"Root": object(obj{"name": str(), "version": str(), "docs": nullable(str()), "openapi": nullable(str()),
			"admin": nullable(str()), "auth": nullable(str())}, "name", "version"),
		"Health":      object(obj{"status": str()}, "status"),
		"Credentials": object(obj{"email": strf("email"), "password": str()}, "email", "password"),
		"LoginResponse": object(obj{"access_token": str(), "refresh_token": str(), "token_type": enum("bearer"),
			"user_id": strf("uuid"), "email": strf("email"), "is_admin": boolean(), "admin_created": boolean(),
			"expires_in": integer(), "refresh_expires_in": integer()},
			"access_token", "refresh_token", "token_type", "user_id"),
		"Me": object(obj{"id": strf("uuid"), "email": strf("email"), "is_admin": boolean(),
			"created_at": timestamp()}),
		"User": object(user, keys(user)...),
		"UserList": object(obj{"users": arrayOf(ref("User")), "total": integer(), "limit": integer(),
			"offset": integer()}, "users", "total", "limit", "offset"),
		"UserInput": object(obj{"email": strf("email"), "password": desc(str(), "at least 8 characters"),
			"is_admin": boolean()}),
		"Settings": desc(anyObject(), "the flat setting names, updated_at, and settings: every key by dotted name; "+
			"see docs/settings.md"),
		"ApplicationToken": object(token, "id", "name", "scopes", "is_active"),
		"CollectionSchema": object(obj{"fields": arrayOf(ref("FieldSpec"))}),
		"FieldSpec": object(obj{"name": str(), "type": str(), "required": boolean(), "default": obj{},
			"min": number(), "max": number(), "min_length": integer(), "max_length": integer(), "pattern": str(),
			"collection": str(), "on_delete": enum("restrict", "cascade", "set_null"), "unique": boolean(),
			"index": boolean(), "description": str()}, "name", "type"),
		"Collection": object(collection, keys(collection)...),
		"CollectionInput": object(obj{"name": str(), "label": str(), "schema": ref("CollectionSchema"),
			"options": anyObject()}, "name"),
		"CollectionPatch": object(obj{"label": str(), "schema": ref("CollectionSchema"), "options": anyObject()}),
		"Record":          object(record, keys(record)...),
		"RecordList": object(obj{"records": arrayOf(ref("Record")), "total": nullable(integer()),
			"limit": integer(), "offset": integer(), "next_cursor": nullable(str())}, "records", "limit", "offset"),
		"RecordInput": object(obj{"data": anyObject()}, "data"),
		"FunctionInfo": object(obj{"name": str(), "description": nullable(str()),
			"auth": enum("public", "auth", "admin"), "tags": arrayOf(str())}, "name", "auth", "tags"),
		"FunctionSchema": object(obj{"name": str(), "has_input_model": boolean(), "has_output_model": boolean(),
			"input_schema": nullable(anyObject()), "output_schema": nullable(anyObject())}),
		"CallResponse": object(obj{"call_id": strf("uuid"), "status": enum("succeeded", "failed"),
			"result":        desc(obj{}, "the function's answer; null when it failed"),
			"error_message": nullable(str()), "error_type": nullable(str()), "duration_ms": integer()},
			"call_id", "status", "result", "error_message", "error_type", "duration_ms"),
		"CallAccepted": object(obj{"call_id": strf("uuid"), "status": enum("running")}, "call_id", "status"),
		"Call":         object(call, keys(call)...),
		"CallList": object(obj{"calls": arrayOf(ref("Call")), "total": integer(), "limit": integer(),
			"offset": integer()}, "calls", "total", "limit", "offset"),
		"ScheduleSpec": desc(anyObject(), `{"method": "interval"|"cron"|"once", …}; see docs/scheduling.md`),
		"Schedule":     object(schedule, "id", "name", "function_name", "schedule", "is_active"),
		"ScheduleInput": object(obj{"name": str(), "function_name": str(), "schedule": ref("ScheduleSpec"),
			"input_data": anyObject(), "is_active": boolean()}),
		"ScheduleList": object(obj{"schedules": arrayOf(ref("Schedule")), "total": integer(), "limit": integer(),
			"offset": integer()}, "schedules", "total", "limit", "offset"),
		"Instants":      object(obj{"next": arrayOf(timestamp())}, "next"),
		"ActivityEntry": object(entry, keys(entry)...),
		"ActivityPage": object(obj{"items": arrayOf(ref("ActivityEntry")), "next_cursor": nullable(str())},
			"items", "next_cursor"),
		"Upload": object(obj{"filename": str(), "content": str(), "notes": nullable(str()),
			"encoding": desc(enum("", "base64"), "base64 for a built executable")}, "filename", "content"),
		"UploadResult": object(obj{"function_name": str(), "version_id": str(), "content_hash": str(),
			"is_new_version": boolean(), "message": str(), "warnings": arrayOf(str())}),
	}
}
