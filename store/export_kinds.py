"""What ``alertflow export`` can write and in which formats, without the store's imports.

The CLI builds its parser (choices included) at every start, ``alertflow run`` too;
importing these from ``store.export`` pulled in SQLAlchemy and Alembic each time.
"""

from typing import Literal, get_args

What = Literal["incidents", "anomalies", "predictions"]
Format = Literal["json", "csv", "parquet"]
WHATS: tuple[str, ...] = get_args(What)
FORMATS: tuple[str, ...] = get_args(Format)
