"""``/api/v1/export/{what}``: the CLI's export, streamed over HTTP."""

import os
import tempfile
from typing import Annotated

from alertflow.api.deps import ApiContext, context, require
from alertflow.api.timeparam import time_ns_param
from alertflow.store import export
from alertflow.store.tokens import TokenOwner
from fastapi import APIRouter, BackgroundTasks, Depends, Query
from fastapi.responses import FileResponse, Response, StreamingResponse

router = APIRouter(prefix="/api/v1/export", tags=["export"])
_MEDIA = {
    "json": "application/x-ndjson",
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/{what}", response_class=Response)
def export_records(
    what: export.What,
    ctx: Annotated[ApiContext, Depends(context)],
    _owner: Annotated[TokenOwner, Depends(require("read"))],
    background: BackgroundTasks,
    fmt: Annotated[export.Format, Query(alias="format")] = "json",
    from_: Annotated[str | None, Query(alias="from", description="RFC 3339 or epoch")] = None,
    to: Annotated[str | None, Query(description="RFC 3339 or epoch")] = None,
) -> Response:
    """Records with their time in [from, to): JSON Lines and CSV stream; Parquet is sent whole."""
    start = time_ns_param(from_, "from") or 0
    end = time_ns_param(to, "to") or 2**62
    if fmt == "parquet":  # the footer comes last: written to a file, then sent
        fd, path = tempfile.mkstemp(suffix=".parquet")
        with os.fdopen(fd, "wb") as out:
            export.write(out, what, fmt, export.batches(ctx.engine, what, start, end))
        background.add_task(os.unlink, path)
        return FileResponse(path, media_type=_MEDIA[fmt], filename=f"{what}.parquet")
    chunks = export.batches(ctx.engine, what, start, end)
    return StreamingResponse(export.encode(what, fmt, chunks), media_type=_MEDIA[fmt])
