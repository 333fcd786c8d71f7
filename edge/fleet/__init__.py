"""Fleet configuration, the station's side: HQ's settings laid over the station's file, kept, applied, reported.

:mod:`.overlay` is pure (file config + settings -> effective config or errors by key); :mod:`.store` keeps
the applied document across restarts and power cuts; :mod:`.receiver` decides what a document from the
``config`` topic does and the ``ConfigState`` the station reports (docs/PROTOCOL.md, "Fleet configuration").
"""
