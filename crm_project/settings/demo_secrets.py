"""Secrets for the demo and for development, generated once and kept under var/.

Production never uses this module: production.py requires every secret from the environment.
"""

import base64
import json
import os
import secrets
from pathlib import Path

SECRETS_FILE_NAME = "demo-secrets.json"


def _new_fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def load_or_create(var_dir: Path) -> dict[str, str]:
    """Return the demo's secrets, creating var/demo-secrets.json (mode 0600) on first use."""
    path = var_dir / SECRETS_FILE_NAME
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PII_ENCRYPTION_KEYS": f"demo1:{_new_fernet_key()}",
        "PII_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
    }
    var_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle, indent=2)
    return values
