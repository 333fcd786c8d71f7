"""The station's own page, served by the edge on the station's network (``[web]`` in the station config).

:mod:`.app` is the HTTP layer (FastAPI, run by uvicorn in a thread: :mod:`.server`); what it shows comes
from :mod:`edge.station_view`, the same value the page's /metrics and Home Assistant read. The install check
(:mod:`.install_check`) and the zone editor (:mod:`.zone_file`) are the two things it changes. The camera's
picture (:mod:`.frames`) is drawn only while someone has the page open and is sent only to that page.
"""
