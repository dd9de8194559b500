"""The ``register`` decorator and the module-level registration slot."""

#: Accepted values of ``register(auth=...)``.
AUTH_LEVELS = ("public", "auth", "admin")


class FunctionSpec(object):
    """What ``register`` recorded about the decorated callable."""

    __slots__ = ("func", "name", "description", "auth", "tags")

    def __init__(self, func, name, description, auth, tags):
        self.func = func
        self.name = name
        self.description = description
        self.auth = auth
        self.tags = tags

    def __repr__(self):
        return "FunctionSpec(name=%r, auth=%r)" % (self.name, self.auth)


# A function file exposes exactly one function, so a single slot is enough;
# a second registration in the same file replaces the first.
_registered = None


def register(name, description=None, auth="auth", tags=None):
    """Registers the decorated callable as this file's TinyBase function.

    ``auth`` is one of ``"public"`` (anyone), ``"auth"`` (any signed-in
    user, the default) or ``"admin"``. Invalid values raise ``ValueError``
    at import time, so a broken file fails when it is described rather than
    when it is first called. Only the last registration in a file counts.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("Function name must be a non-empty string, got %r" % (name,))
    if auth not in AUTH_LEVELS:
        raise ValueError(
            "Invalid auth level %r for function %r: must be one of 'public', 'auth', 'admin'" % (auth, name)
        )
    if description is not None and not isinstance(description, str):
        raise ValueError("Function description must be a string, got %r" % (description,))
    if tags is None:
        tag_list = []
    elif isinstance(tags, str):
        raise ValueError("Function tags must be a list of strings, got the string %r" % (tags,))
    else:
        tag_list = list(tags)
        for tag in tag_list:
            if not isinstance(tag, str):
                raise ValueError("Function tags must be strings, got %r" % (tag,))

    def decorator(func):
        global _registered
        if not callable(func):
            raise TypeError("@register must decorate a callable, got %r" % (func,))
        _registered = FunctionSpec(func, name, description, auth, tag_list)
        return func

    return decorator


def registered():
    """Returns the FunctionSpec of the last registration, or None."""
    return _registered


def clear():
    """Forgets the current registration (used by tests)."""
    global _registered
    _registered = None
