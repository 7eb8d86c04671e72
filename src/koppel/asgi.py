import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
# WhiteNoise serves static files as synchronous file streams; under ASGI Django warns once per file. Harmless.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django_application = get_asgi_application()

from django.urls import get_resolver  # noqa: E402

from koppel.intake.gate import WebhookGate  # noqa: E402  (needs the settings configured above)
from koppel.intake.limits import BodyLimit  # noqa: E402

#: The webhooks of platforms that sign with the connection's secret, stored in group commits before Django.
webhook_gate = WebhookGate(django_application)
application = BodyLimit(webhook_gate)
# The first request would otherwise import every view while a burst waits.
get_resolver().url_patterns  # noqa: B018
