"""A small stdlib HTTP client for calling the TinyBase API from a function."""

import ipaddress
import json as _json
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_TIMEOUT = 30.0


class TinyBaseError(Exception):
    """An error answer of the TinyBase API.

    ``status`` is the HTTP status code (0 when the server could not be
    reached) and ``detail`` the ``detail`` field of the error body, or the
    raw body text when it was not JSON.
    """

    def __init__(self, status, detail):
        self.status = status
        self.detail = detail
        if status:
            super().__init__("HTTP %d: %s" % (status, detail))
        else:
            super().__init__(str(detail))


class Client(object):
    """Talks to the TinyBase REST API as the caller of the function.

    ``base_url`` is the API root including ``/api`` (the runner passes it as
    ``context.api_base_url``); ``token`` is sent as a bearer token. Every
    method returns the decoded JSON body, or None for an empty body, and
    raises TinyBaseError for HTTP errors.
    """

    def __init__(self, base_url, token=None, timeout=DEFAULT_TIMEOUT):
        self.base_url = (base_url or "").rstrip("/")
        self.token = token or None
        self.timeout = timeout
        self.context = None
        self._opener = _opener_for(self.base_url)

    def __repr__(self):
        return "Client(base_url=%r)" % (self.base_url,)

    # -- generic requests --------------------------------------------------

    def request(self, method, path, json=None, params=None):
        """Sends one request; ``path`` is relative to the API root."""
        if not self.base_url:
            raise TinyBaseError(0, "client has no API base URL")
        url = self.base_url + "/" + path.lstrip("/")
        query = _encode_params(params)
        if query:
            url += ("&" if "?" in url else "?") + query
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if json is not None:
            data = _json.dumps(json).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=headers, method=method.upper())
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            raise TinyBaseError(exc.code, _error_detail(body, exc.reason)) from None
        except urllib.error.URLError as exc:
            raise TinyBaseError(0, "cannot reach %s: %s" % (self.base_url, exc.reason)) from None
        if not body or not body.strip():
            return None
        try:
            return _json.loads(body)
        except ValueError:
            return body.decode("utf-8", "replace")

    def get(self, path, params=None):
        return self.request("GET", path, params=params)

    def post(self, path, json=None, params=None):
        return self.request("POST", path, json=json, params=params)

    def put(self, path, json=None, params=None):
        return self.request("PUT", path, json=json, params=params)

    def patch(self, path, json=None, params=None):
        return self.request("PATCH", path, json=json, params=params)

    def delete(self, path, params=None):
        return self.request("DELETE", path, params=params)

    # -- conveniences --------------------------------------------------------

    def list_records(self, collection, **params):
        """Lists records: ``{"records": [...], "total", "limit", "offset"}``.

        Keyword arguments become query parameters, e.g. ``limit=10``,
        ``offset=20``, ``sort_by="created_at"``, ``sort_order="asc"``.
        """
        return self.get("collections/%s/records" % _seg(collection), params=params)

    def get_record(self, collection, record_id):
        return self.get("collections/%s/records/%s" % (_seg(collection), _seg(record_id)))

    def create_record(self, collection, data):
        """Creates a record from ``data`` and returns it."""
        return self.post("collections/%s/records" % _seg(collection), json={"data": data})

    def update_record(self, collection, record_id, data):
        """Merges ``data`` into the record's top-level fields and returns it."""
        return self.patch("collections/%s/records/%s" % (_seg(collection), _seg(record_id)), json={"data": data})

    def delete_record(self, collection, record_id):
        return self.delete("collections/%s/records/%s" % (_seg(collection), _seg(record_id)))

    def call_function(self, name, payload=None):
        """Calls another function as the same caller.

        Returns the call response ``{"call_id", "status", "result",
        "error_message", "error_type", "duration_ms"}``; a failed function is
        not an HTTP error, check ``status``.
        """
        return self.post("functions/%s" % _seg(name), json=payload if payload is not None else {})


def _seg(value):
    return urllib.parse.quote(str(value), safe="")


def _encode_params(params):
    if not params:
        return ""
    pairs = []
    for key, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool):
                v = "true" if v else "false"
            pairs.append((key, str(v)))
    return urllib.parse.urlencode(pairs)


def _error_detail(body, fallback):
    text = body.decode("utf-8", "replace") if body else ""
    try:
        doc = _json.loads(text)
    except ValueError:
        return text or fallback
    if isinstance(doc, dict) and "detail" in doc:
        return doc["detail"]
    return doc


def _opener_for(base_url):
    """Returns a URL opener; loopback API URLs never go through a proxy.

    A proxy configured for the function's outbound traffic (HTTP_PROXY in
    its environment) must not capture calls back to a TinyBase API running
    on the same host.
    """
    host = urllib.parse.urlsplit(base_url).hostname or ""
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()
