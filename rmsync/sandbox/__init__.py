"""A local SailPoint ISC tenant serving the role-mining API, for tests, demos and pipelines.

Start it with `rmsync sandbox`, or in-process: `with Sandbox() as sb: ...sb.base_url...`.
"""

from rmsync.ratelimit import Limit
from rmsync.sandbox.archive import LAYOUTS, ArchiveLayout
from rmsync.sandbox.faultplan import FaultPlan, load_faults
from rmsync.sandbox.seed import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Seed, load_seed
from rmsync.sandbox.server import Sandbox
from rmsync.sandbox.state import CreatedExport, Schedule
from rmsync.sandbox.storage import StorageRequest

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "LAYOUTS",
    "ArchiveLayout",
    "CreatedExport",
    "FaultPlan",
    "Limit",
    "Sandbox",
    "Schedule",
    "Seed",
    "StorageRequest",
    "load_faults",
    "load_seed",
]
