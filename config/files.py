"""How a stored file (evidence, imports, exports) leaves the server: only through
`download_response`, called by a view once it has checked that the requester may have it.

- Local storage (the embedded default): the file is streamed as an attachment, with
  `nosniff`, a sandboxing CSP and `Cache-Control: private`.
- S3-compatible storage: a 302 to a presigned URL that expires in FILE_URL_EXPIRE_SECONDS
  and makes the bucket answer with `Content-Disposition: attachment` and the stored type.

No storage hands out a public URL: the local storage's `url()` refuses, the S3 storage is
configured to sign (config/settings.py), and an unsigned URL is refused here as well.

It lives in config/ rather than in an app because it knows storages, not models: the
registry's evidence and the passports' imports and exports use the same function.
"""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

# A stored file opened in the browser anyway runs no script and loads nothing.
SANDBOX_CSP = "sandbox; default-src 'none'"


class PrivateFileSystemStorage(FileSystemStorage):
    """Files under MEDIA_ROOT that have no URL: MEDIA_URL is routed nowhere."""

    def url(self, name):
        raise NotImplementedError(
            "Stored files have no public URL; serve them with "
            "config.files.download_response from a view that checks access."
        )


def download_response(file, *, filename: str, content_type: str) -> HttpResponse:
    """A response that hands `file` (a FieldFile: `.storage` and `.name`) to the requester,
    saved as `filename` and typed `content_type`. Check access before calling it."""
    storage, name = file.storage, file.name
    if _presigns(storage):
        return _presigned_redirect(storage, name, filename=filename, content_type=content_type)
    response = FileResponse(
        storage.open(name, "rb"),
        as_attachment=True,
        filename=filename,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Cache-Control"] = "private"
    return response


def _presigns(storage) -> bool:
    # An S3Storage instance implies its module is loaded; local mode never imports boto3.
    s3 = sys.modules.get("storages.backends.s3")
    return s3 is not None and isinstance(storage, s3.S3Storage)


def _presigned_redirect(storage, name: str, *, filename: str, content_type: str):
    expire = settings.FILE_URL_EXPIRE_SECONDS
    url = storage.url(
        name,
        parameters={
            "ResponseContentDisposition": content_disposition_header(True, filename),
            "ResponseContentType": content_type,
            "ResponseCacheControl": "private",
        },
        expire=expire,
    )
    query = parse_qs(urlsplit(url).query)
    signed = "X-Amz-Signature" in query and "X-Amz-Expires" in query
    if not signed or int(query["X-Amz-Expires"][0]) > expire:
        raise ImproperlyConfigured(
            "The file storage produced an unsigned or long-lived URL; set querystring_auth "
            "and signature_version s3v4, and no custom_domain."
        )
    response = HttpResponseRedirect(url)
    # The location is a bearer URL: no shared cache keeps it, no page passes it on.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
