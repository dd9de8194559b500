"""The per-call context the runner sends with every request."""


class Context(object):
    """Who called the function and how to reach the API.

    The runner fills these from the ``context`` object of each request; the
    client handed to the function carries it as ``client.context``.
    """

    __slots__ = ("api_base_url", "auth_token", "user_id", "is_admin", "request_id", "function_name")

    def __init__(
        self,
        api_base_url="",
        auth_token=None,
        user_id=None,
        is_admin=False,
        request_id=None,
        function_name=None,
    ):
        self.api_base_url = api_base_url or ""
        self.auth_token = auth_token or None
        self.user_id = user_id
        self.is_admin = bool(is_admin)
        self.request_id = request_id
        self.function_name = function_name

    @classmethod
    def from_dict(cls, data):
        """Builds a Context from the wire object, ignoring unknown keys."""
        if not isinstance(data, dict):
            data = {}
        return cls(
            api_base_url=data.get("api_base_url") or "",
            auth_token=data.get("auth_token"),
            user_id=data.get("user_id"),
            is_admin=data.get("is_admin", False),
            request_id=data.get("request_id"),
            function_name=data.get("function_name"),
        )

    def __repr__(self):
        # The token is deliberately left out so it never lands in a log line.
        return "Context(function_name=%r, request_id=%r, user_id=%r, is_admin=%r)" % (
            self.function_name,
            self.request_id,
            self.user_id,
            self.is_admin,
        )
