"""The intake benchmark's baseline: an endpoint that only inserts one row, through the same
gunicorn workers, middleware and database connection as the reports API. Mounted by
`config.settings.bench` only (`ROOT_URLCONF = "bench.baseline"`): normal settings never route to
it.

`POST /api/bench/baseline` with a JSON body inserts it into `bench_baseline` (created with raw
SQL by `bench.intake`, no model, no migration) and answers 201 with the row's id."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns

TABLE = "bench_baseline"


@csrf_exempt
@require_POST
def baseline(request: HttpRequest) -> HttpResponse:
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "JSON invalide"}, status=400)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (payload, created_at) VALUES (%s, %s)",
            [json.dumps(payload), timezone.now()],
        )
        row_id = cursor.lastrowid if connection.vendor == "sqlite" else None
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [path("api/bench/baseline", baseline), *project_urlpatterns]
