"""The one upload handler (settings.FILE_UPLOAD_HANDLERS): uploads stay in memory, never in a
temporary file, so a photo is never written to disk with its metadata before it is re-encoded.

Django's `MemoryFileUploadHandler` keeps files in memory only while the whole request is under
`FILE_UPLOAD_MAX_MEMORY_SIZE`; beyond, with no other handler, it silently drops every file, and
a report was then stored without the photo its sender chose. Here a file too large to keep
keeps its name and its real size without its bytes: the form or the API refuses it as too
large (they check the size first) and nothing is stored."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class BoundedMemoryUploadHandler(FileUploadHandler):
    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer: io.BytesIO | None = io.BytesIO()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.buffer is None:
            return None
        if self.received > settings.FILE_UPLOAD_MAX_MEMORY_SIZE:
            self.buffer = None  # too large: only its size is kept from now on
        else:
            self.buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        content = self.buffer if self.buffer is not None else io.BytesIO()
        content.seek(0)
        return InMemoryUploadedFile(
            file=content,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
