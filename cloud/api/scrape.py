"""``GET /metrics``: the Prometheus text exposition of :class:`cloud.prometheus.CollectorMetrics`.

Outside ``/api/v1`` (Prometheus expects ``/metrics``), behind the same bearer tokens as the API. Only an
``hq`` user may scrape: the series name every station of the chain. Give Prometheus a user of its own
(``forecourt users add prometheus --role hq``), so its token can be rotated or removed alone.
"""

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from cloud.api.deps import CurrentUser

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def scrape(request: Request, user: CurrentUser) -> Response:
    if user.role.kind != "hq":
        raise HTTPException(403, f"/metrics names every station; it needs an hq token, not {user.role}")
    body = generate_latest(request.app.state.prometheus)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
