from .keyrings import _no_secret_variables, file_keyring, no_keyring  # noqa: F401 - fixtures
