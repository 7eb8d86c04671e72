import os
import warnings

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "koppel.settings")
# WhiteNoise serves static files as synchronous file streams; under ASGI Django warns once per file. Harmless.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")
django_application = get_asgi_application()

from koppel.intake.limits import BodyLimit  # noqa: E402  (needs the settings configured above)

application = BodyLimit(django_application)
