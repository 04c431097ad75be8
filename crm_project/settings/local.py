"""Development and demo settings (`make run`, `python manage.py ...`)."""

from crm_project.settings import demo_secrets
from crm_project.settings.base import *  # noqa: F403
from crm_project.settings.base import VAR_DIR
from crm_project.settings.env import env_bool

# Off unless asked (DEBUG=true): the debug 500 page shows the environment, DATABASE_URL included.
DEBUG = env_bool("DEBUG", False)

# Secrets not given in the environment come from var/demo-secrets.json, generated on first start.
_demo = demo_secrets.load_or_create(VAR_DIR)
SECRET_KEY = SECRET_KEY or _demo["SECRET_KEY"]  # noqa: F405
PII_ENCRYPTION_KEYS = PII_ENCRYPTION_KEYS or _demo["PII_ENCRYPTION_KEYS"]  # noqa: F405
PII_BLIND_INDEX_KEY = PII_BLIND_INDEX_KEY or _demo["PII_BLIND_INDEX_KEY"]  # noqa: F405

# Serve static files from the app folders without collectstatic during development.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
