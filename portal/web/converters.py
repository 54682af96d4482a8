"""Path converters of the portal's URLs."""


class SecretTokenConverter:
    """An emailed secret (a sign-up, invitation or password-reset link): URL-safe text, never an object
    id. Objects are still named by UUID only (tests/api/test_cross_organisation.py)."""

    regex = r"[A-Za-z0-9_.:-]{1,2048}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
